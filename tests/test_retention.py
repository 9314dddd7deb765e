"""Retention (`retention_max_messages`, `_jobs`, `_callbacks`, `_age`, `_interval`): a
long-running mock keeps its memory bounded by forgetting its oldest jobs, whole, and its
finished callback deliveries; the newest job and unfinished deliveries always stay.

In-process servers (LiveServer) on a frozen clock. The count limits are applied when a job is
accepted; the age limit and the callback limit by the periodic pass (`retention_interval`),
which these tests set to 0.1 s and wait for (bounded).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.callback_helpers import ALICE, Mock, batch_body, mock_server
from tests.receiver import DownReceiver, Receiver
from tests.server_process import wait_until

DELIVERED = "380000000001"  # the first channel delivers 1 s after sending
ALL_EXPIRE = "380000000003"  # viber expires at 60 s, then sms at 360 s: final then
FALLBACK = "380000000002"  # viber expires at 60 s, sms delivers at 62 s
NO_RETRY_SOON = {"callback_backoff": 1000, "callback_jitter": 0}  # a failed report stays pending
FAST_PASSES = {"retention_interval": 0.1}


def phones(count: int, first: int) -> list[str]:
    return [f"38050{first + n:07d}" for n in range(count)]


def body(url: str | None, recipients: list[str], prefix: str, **changes: Any) -> dict[str, Any]:
    """A viber+sms batch (spec fixture) with unique extra_ids `prefix-n`."""
    data = batch_body(url, recipients, **changes)
    for n, item in enumerate(data["messages"]):
        item["extra_id"] = f"{prefix}-{n}"
    return data


def send(mock: Mock, data: dict[str, Any]) -> tuple[str, list[str]]:
    """POST /batch/sync; (job_id, accepted message ids)."""
    items = mock.batch_sync(data)
    ids = [item["message_id"] for item in items if item["accepted"]]
    message = mock.http.get(f"/_mock/messages/{ids[0]}").json()
    return message["job_id"], ids


def job_ids(mock: Mock) -> list[str]:
    jobs = mock.http.get("/_mock/jobs", params={"limit": 100_000}).json()["jobs"]
    return [job["job_id"] for job in jobs]


def stored(mock: Mock) -> int:
    count: int = mock.http.get("/_mock/health").json()["messages"]
    return count


def deliveries(mock: Mock) -> list[dict[str, Any]]:
    return mock.callbacks(limit=1_000_000, body="false")


def assert_gone(mock: Mock, job_id: str, message_id: str, extra_id: str) -> None:
    status = mock.http.get(f"/1001/status/{job_id}", auth=ALICE)
    assert (status.status_code, status.json()["error_code"]) == (404, 11008)
    for path in (
        f"/1001/api/dr/{message_id}/simple",
        f"/1001/api/dr/{message_id}/advanced",
        f"/1001/api/dr/external/{extra_id}/simple",
    ):
        answer = mock.http.get(path, auth=ALICE)
        assert (answer.status_code, answer.json()["error_code"]) == (404, 11009), path
    assert mock.http.get(f"/_mock/messages/{message_id}").status_code == 404
    assert mock.http.get(f"/_mock/jobs/{job_id}").status_code == 404
    assert mock.http.get("/_mock/messages", params={"job_id": job_id}).json()["total"] == 0


def assert_kept(mock: Mock, job_id: str, message_id: str) -> None:
    assert mock.http.get(f"/1001/status/{job_id}", auth=ALICE).status_code == 200
    assert mock.http.get(f"/1001/api/dr/{message_id}/simple", auth=ALICE).status_code == 200


# -- by count --------------------------------------------------------------------------------


def test_the_message_limit_removes_the_oldest_jobs_first() -> None:
    with mock_server(retention_max_messages=1000, retention_interval=300) as mock:
        sent: list[tuple[str, list[str]]] = []
        for n in range(5):
            sent.append(send(mock, body(None, phones(400, n * 400), f"J{n}")))
            held = job_ids(mock)
            # Whole jobs, the oldest first: what is held is the newest few, in order.
            assert held == [job for job, _ in sent][-len(held) :]
            assert stored(mock) <= 1000
            assert stored(mock) == 400 * len(held)
        assert held == [sent[3][0], sent[4][0]]
        for n in range(3):
            job_id, ids = sent[n]
            assert_gone(mock, job_id, ids[0], f"J{n}-0")
        for job_id, ids in sent[3:]:
            assert_kept(mock, job_id, ids[-1])
        # The kept jobs carry on living.
        mock.advance(400, wait=False)
        states = mock.http.get("/_mock/jobs").json()["jobs"]
        assert all(set(job["states"]) <= {"delivered", "failed"} for job in states)


def test_the_newest_job_always_stays_even_above_the_limits() -> None:
    with mock_server(retention_max_messages=1000, retention_interval=300) as mock:
        small, _ = send(mock, body(None, phones(300, 0), "S"))
        big, big_ids = send(mock, body(None, phones(1500, 300), "B"))
        assert job_ids(mock) == [big]
        assert stored(mock) == 1500  # above the limit, but it is the newest job
        assert mock.http.get(f"/1001/status/{small}", auth=ALICE).status_code == 404
        assert_kept(mock, big, big_ids[-1])


def test_the_job_limit_is_applied_by_the_periodic_pass() -> None:
    with mock_server(retention_max_jobs=2, **FAST_PASSES) as mock:
        jobs = [send(mock, body(None, phones(2, 10 * n), f"F{n}"))[0] for n in range(3)]
        wait_until(lambda: job_ids(mock) == jobs[1:], timeout=5, what="max_jobs pass")
        assert stored(mock) == 4


# -- by age ----------------------------------------------------------------------------------


def test_the_age_limit_removes_old_jobs_and_old_finished_callbacks() -> None:
    settings = {"retention_max_age": 100, **FAST_PASSES, **NO_RETRY_SOON}
    with Receiver() as receiver, DownReceiver() as down, mock_server(**settings) as mock:
        old, old_ids = send(mock, body(receiver.url, [DELIVERED], "OLD"))
        stuck, _ = send(mock, body(down.url, [DELIVERED], "STUCK"))
        mock.advance(5)  # t0+5: OLD's report delivered, STUCK's failed once (retry in 1000 s)
        assert [d["status"] for d in deliveries(mock)] == ["delivered", "pending"]
        mock.advance(60)
        new, new_ids = send(mock, body(receiver.url, [DELIVERED], "NEW"))  # created at t0+65
        mock.advance(5)
        assert job_ids(mock) == [old, stuck, new]  # nothing is older than 100 s yet
        assert len(deliveries(mock)) == 3

        mock.advance(40)  # t0+110: OLD and STUCK are 110 s old, NEW 45 s
        wait_until(lambda: job_ids(mock) == [new], timeout=5, what="old jobs removed")
        assert_gone(mock, old, old_ids[0], "OLD-0")
        assert_kept(mock, new, new_ids[0])

        def left() -> list[tuple[str, str]]:
            return [(d["status"], d["message_ids"][0]) for d in deliveries(mock)]

        # OLD's finished report is gone; STUCK's unfinished one stays though its job is gone.
        wait_until(lambda: len(left()) == 2, timeout=5, what="old delivery removed")
        assert [status for status, _ in left()] == ["pending", "delivered"]
        assert left()[1][1] == new_ids[0]

        mock.advance(200)  # NEW is 245 s old now, but it is the newest job: it stays
        wait_until(lambda: len(left()) == 1, timeout=5, what="NEW's old report removed")
        assert left()[0][0] == "pending"
        receiver.quiet(0.5)  # a few more passes
        assert job_ids(mock) == [new]
        assert_kept(mock, new, new_ids[0])


# -- callbacks -------------------------------------------------------------------------------


def test_finished_callbacks_beyond_the_limit_go_and_unfinished_ones_stay() -> None:
    settings = {"retention_max_callbacks": 6, **FAST_PASSES, **NO_RETRY_SOON}
    with Receiver() as receiver, DownReceiver() as down, mock_server(**settings) as mock:
        send(mock, body(receiver.url, [DELIVERED] * 5, "OK"))
        send(mock, body(down.url, [DELIVERED] * 4, "DOWN"))
        mock.advance(5)  # 5 reports delivered, 4 failed once and pending (retry in 1000 s)

        def log() -> list[tuple[int, str]]:
            return [(d["id"], d["status"]) for d in deliveries(mock)]

        wait_until(lambda: len(log()) == 6, timeout=5, what="3 finished deliveries removed")
        remaining = log()
        statuses = [status for _, status in remaining]
        assert statuses == ["delivered"] * 2 + ["pending"] * 4
        receiver.quiet(0.4)  # more passes: at the limit now, nothing else goes
        assert log() == remaining

        # Over the limit with unfinished deliveries only: they all stay.
        send(mock, body(down.url, [DELIVERED] * 4, "DOWN2"))
        mock.advance(5)
        wait_until(
            lambda: [status for _, status in log()] == ["pending"] * 8,
            timeout=5,
            what="only unfinished deliveries left",
        )
        receiver.quiet(0.3)
        assert len(log()) == 8  # above the limit of 6: unfinished ones are never removed
        assert len(receiver.requests) == 5


def test_messages_dropped_before_their_end_send_no_more_callbacks() -> None:
    with Receiver() as receiver, mock_server(retention_max_messages=5) as mock:
        # On their way at +10 s: viber until 60 s, then sms (delivers at 62 s / expires 360 s).
        running, running_ids = send(
            mock, body(receiver.url, [ALL_EXPIRE, ALL_EXPIRE, FALLBACK, FALLBACK], "RUN")
        )
        mock.advance(10)
        # Not started yet: start_time a day ahead of the frozen clock.
        waiting, _ = send(
            mock, body(receiver.url, [DELIVERED], "WAIT", start_time="2026-01-02 00:00:00Z")
        )
        assert stored(mock) == 5
        kept, kept_ids = send(mock, body(receiver.url, [DELIVERED] * 5, "KEPT"))
        assert job_ids(mock) == [kept]  # 10 > 5: both older jobs went, oldest first

        mock.advance(2 * 86400)  # past every ttl and past the deferred start
        receiver.quiet(0.3)
        reported = [report["message_id"] for report in receiver.reports()]
        assert sorted(reported) == sorted(kept_ids)  # nothing from the dropped jobs
        clocks = mock.http.get("/_mock/clock").json()["clocks"]["1001"]
        assert clocks["pending_events"] == 0
        assert mock.http.get("/_mock/health").json()["status"] == "ok"
        assert_gone(mock, running, running_ids[0], "RUN-0")
        assert mock.http.get(f"/1001/status/{waiting}", auth=ALICE).status_code == 404


# -- with persistence ------------------------------------------------------------------------


@contextmanager
def persistent(tmp_path: Path, **overrides: Any) -> Iterator[Mock]:
    with mock_server(store=f"sqlite:///{tmp_path}/mock.db", **overrides) as mock:
        yield mock


def table_count(tmp_path: Path, table: str) -> int:
    connection = sqlite3.connect(tmp_path / "mock.db")
    try:
        count: int = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return count
    finally:
        connection.close()


def test_jobs_removed_by_retention_do_not_come_back_after_a_restart(tmp_path: Path) -> None:
    with persistent(tmp_path, retention_max_messages=3, retention_interval=300) as mock:
        first, _ = send(mock, body(None, phones(2, 0), "A"))
        mock.advance(5)
        second, _ = send(mock, body(None, phones(2, 10), "B"))
        assert job_ids(mock) == [second]
    assert table_count(tmp_path, "jobs") == 1  # a job is one row: its recipients are columns
    with persistent(tmp_path, retention_max_messages=3, retention_interval=300) as mock:
        assert job_ids(mock) == [second]
        assert stored(mock) == 2
        assert mock.http.get(f"/1001/status/{first}", auth=ALICE).status_code == 404


def test_callbacks_removed_by_retention_do_not_come_back_after_a_restart(
    tmp_path: Path,
) -> None:
    # A long flush interval: the removal happens before the flush that would save them.
    settings = {"retention_max_callbacks": 1, "store_flush_interval": 60, **FAST_PASSES}
    with Receiver() as receiver:
        with persistent(tmp_path, **settings) as mock:
            send(mock, body(receiver.url, [DELIVERED] * 3, "CB"))
            mock.advance(5)
            wait_until(lambda: len(deliveries(mock)) == 1, timeout=5, what="retention pass")
        assert table_count(tmp_path, "deliveries") == 1
        with persistent(tmp_path, **{**settings, "retention_interval": 300}) as mock:
            assert len(deliveries(mock)) == 1


def test_the_retention_pass_can_be_run_directly() -> None:
    """AccountState.enforce_retention(): what the periodic pass calls; it returns
    (jobs removed, deliveries removed). Run here on a Backend without any server."""
    from mock_hyber.config import Settings
    from mock_hyber.service.accept import SendingService
    from mock_hyber.state import Backend

    settings = Settings(
        accounts="1001:alice:secret",
        seed=3,
        clock_frozen=True,
        clock_start="2026-01-01T00:00:00Z",
        retention_max_age=60,
    )
    account = Backend(settings).accounts["1001"]
    service = SendingService(account)
    first = service.send_batch(body(None, phones(3, 0), "A"))
    first_ids = [message.message_id for message in account.messages(first)]
    account.clock.advance(30)
    second = service.send_batch(body(None, phones(3, 10), "B"))
    assert account.enforce_retention() == (0, 0)
    account.clock.advance(31)  # the first job is 61 s old, the second 31 s
    assert account.enforce_retention() == (1, 0)
    assert list(account.store.jobs) == [second.job_id]
    assert all(account.message(message_id) is None for message_id in first_ids)
    account.clock.advance(1000)
    assert account.enforce_retention() == (0, 0)  # the newest job stays
    assert len(account.store) == 3
