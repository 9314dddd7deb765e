"""Persistence (`store = sqlite:///...`) with real server processes: SIGKILL in the middle of a
simulation, restart on the same database, and nothing accepted is lost.

Delivery of callbacks across a crash is AT LEAST ONCE: progress is flushed every
`store_flush_interval` seconds, so the moments between the last flush and the kill happen
again after the restart and their reports are POSTed again. A receiver must accept
duplicates (they are identical copies: same message_id, same body). These tests count them
and print them; they never fail on them.

Every wait is bounded; everything runs on 127.0.0.1. A server process costs 2-3 s to start
(imports), so only the tests that need a crash (SIGKILL) use processes; graceful restarts are
in-process (a LiveServer stopped, then a new one on the same database).
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_hyber.config import Settings
from mock_hyber.testing.server import LiveServer
from tests.receiver import Received, Receiver
from tests.server_process import ServerProcess, wait_until

AUTH = ("alice", "secret")
ACCOUNTS = "1001:alice:secret"
START = "2026-01-01T00:00:00Z"
START_MS = 1_767_225_600_000
MAGIC = [f"38000000000{n}" for n in range(1, 9)]  # 380000000004 is rejected at acceptance
REJECTED = "380000000004"
SPEED = 40  # virtual seconds per real second: a 360 s life (viber 60 + sms 300) takes 9 s


def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/mock.db"  # tmp_path is absolute: sqlite:////tmp/...


def persistent(tmp_path: Path, **env: str) -> ServerProcess:
    settings = {
        "MOCK_HYBER_STORE": db_url(tmp_path),
        "MOCK_HYBER_ACCOUNTS": ACCOUNTS,
        "MOCK_HYBER_SEED": "11",
        "MOCK_HYBER_LOG_LEVEL": "warning",
        **env,
    }
    return ServerProcess(tmp_path, **settings)


def frozen(tmp_path: Path, **env: str) -> ServerProcess:
    return persistent(tmp_path, MOCK_HYBER_CLOCK_FROZEN="true", MOCK_HYBER_CLOCK_START=START, **env)


def batch(
    phones: list[str], callback_url: str | None = None, viber_ttl: int = 60
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channels": ["viber", "sms"],
        "channel_options": {
            "viber": {"ttl": viber_ttl, "text": "Viber text"},
            "sms": {"ttl": 300, "alpha_name": "GMSU", "text": "SMS text"},
        },
        "messages": [
            {"phone_number": phone, "extra_id": f"P-{n:05d}", "text": f"Hello #{n}"}
            for n, phone in enumerate(phones)
        ],
    }
    if callback_url is not None:
        body["callback_url"] = callback_url
    return body


def send_sync(http: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = http.post("/1001/batch/sync", json=body, auth=AUTH)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["messages"]
    return items


def job_states(http: httpx.Client, job_id: str) -> dict[str, int]:
    response = http.get(f"/_mock/jobs/{job_id}")
    assert response.status_code == 200, response.text
    states: dict[str, int] = response.json()["states"]
    return states


def status_items(http: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    response = http.get(f"/1001/status/{job_id}", auth=AUTH)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["messages"]
    return items


def is_final(item: dict[str, Any]) -> bool:
    """A campaign status item with a final status (delivered: status_text; failed or rejected:
    error_code) rather than status -1."""
    return "status_text" in item or "error_code" in item


def clock(http: httpx.Client) -> dict[str, Any]:
    clocks: dict[str, Any] = http.get("/_mock/clock").json()["clocks"]["1001"]
    return clocks


def health(http: httpx.Client) -> dict[str, Any]:
    answer: dict[str, Any] = http.get("/_mock/health").json()
    return answer


def complete(requests: list[Received]) -> list[tuple[str, Received]]:
    """(message_id, request) of the reports that arrived whole: a SIGKILL in the middle of a
    POST leaves the receiver a truncated body (not JSON), which the restart sends again."""
    return [(r.body["message_id"], r) for r in requests if isinstance(r.body, dict)]


def recipients(count: int, seed: int = 5) -> list[str]:
    """Every tenth recipient a magic number (all eight in turn), the rest random phones."""
    rng = random.Random(seed)
    phones = []
    for n in range(count):
        if n % 10 == 0:
            phones.append(MAGIC[(n // 10) % len(MAGIC)])
        else:
            phones.append(f"380{rng.randrange(50_000_000, 99_999_999):09d}")
    return phones


# -- the crash test ---------------------------------------------------------------------------


def test_sigkill_mid_simulation_loses_no_message_and_no_callback(tmp_path: Path) -> None:
    """1,000 recipients with callbacks; SIGKILL while some are final and some are not, and
    while some reports are delivered and some are not; restart on the same database: the
    same job and message ids, every accepted message reaches a final status, and its report
    reaches the receiver (at least once) and is logged as delivered."""
    phones = recipients(1000)
    # Half the other tests' speed: on a loaded machine the mid-simulation window (some final,
    # some not, some reported) then lasts long enough for the polls below to see it.
    server = persistent(tmp_path, MOCK_HYBER_CLOCK_SPEED=str(SPEED // 2))
    with Receiver() as receiver, server:
        with server.client() as http:
            items = send_sync(http, batch(phones, receiver.url))
            accepted = [item["message_id"] for item in items if item["accepted"]]
            all_ids = [item["message_id"] for item in items]
            rejected = [item for item in items if not item["accepted"]]
            assert len(rejected) == phones.count(REJECTED) > 0
            assert len(accepted) + len(rejected) == 1000
            jobs = http.get("/_mock/jobs").json()["jobs"]
            assert len(jobs) == 1
            job_id = jobs[0]["job_id"]

            def mid_simulation() -> dict[str, int] | None:
                states = job_states(http, job_id)
                final = states.get("delivered", 0) + states.get("failed", 0)
                on_their_way = states.get("pending", 0) + states.get("active", 0)
                reported = {mid for mid, _ in complete(receiver.requests)}
                if final >= 300 and on_their_way >= 20 and 50 <= len(reported) < len(accepted):
                    return states
                return None

            before_kill = wait_until(mid_simulation, timeout=40, interval=0.02, what="progress")
        server.kill()
        reported_before_kill = {mid for mid, _ in complete(receiver.requests)}
        non_final = before_kill.get("pending", 0) + before_kill.get("active", 0)
        print(
            f"\nkilled with states {before_kill} (non-final {non_final}); "
            f"{len(reported_before_kill)} of {len(accepted)} reports received"
        )
        assert non_final > 0, "the kill came too late: every message was final already"

        server.start()
        with server.client() as http:
            # The same job and the same messages, in the same order.
            job = http.get(f"/_mock/jobs/{job_id}")
            assert job.status_code == 200, job.text
            assert [m["message_id"] for m in job.json()["messages"]] == all_ids
            assert [m["message_id"] for m in status_items(http, job_id)] == all_ids

            def everything_final() -> list[dict[str, Any]] | None:
                report = status_items(http, job_id)
                return report if all(is_final(item) for item in report) else None

            final_report = wait_until(everything_final, timeout=60, interval=0.2, what="final")
            receiver.wait_for(
                len(accepted),
                timeout=60,
                predicate=lambda requests: {mid for mid, _ in complete(requests)} >= set(accepted),
            )
            receiver.quiet(0.5)  # let late duplicates arrive before counting them

            # The attempt log: each accepted message has a delivered report, none failed.
            log = http.get("/_mock/callbacks", params={"limit": 1_000_000, "body": "false"})
            deliveries = log.json()["callbacks"]
            delivered = Counter(
                mid for d in deliveries if d["status"] == "delivered" for mid in d["message_ids"]
            )
            assert set(delivered) == set(accepted)
            statuses = Counter(d["status"] for d in deliveries)
            assert statuses.get("failed", 0) == 0, statuses
            assert health(http)["messages"] == 1000

    # Rejected recipients never get a report; accepted ones got theirs, with the status the
    # campaign report shows (delivered or not), and duplicates are identical copies.
    bodies_by_id: dict[str, list[bytes]] = {}
    for message_id, request in complete(receiver.requests):
        bodies_by_id.setdefault(message_id, []).append(request.raw)
    cut = len(receiver.requests) - len(complete(receiver.requests))
    assert set(bodies_by_id) == set(accepted)
    final_by_id = {item["message_id"]: item for item in final_report}
    for message_id, raws in bodies_by_id.items():
        assert len(set(raws)) == 1, f"{message_id}: duplicates differ: {raws}"
        body = json.loads(raws[0])
        delivered_in_report = "status_text" in final_by_id[message_id]
        assert (body["status"] == 2) == delivered_in_report, (body, final_by_id[message_id])
    duplicates = {mid: len(raws) for mid, raws in bodies_by_id.items() if len(raws) > 1}
    log_duplicates = sum(count - 1 for count in delivered.values())
    print(
        f"reports received: {len(receiver.requests)} for {len(accepted)} messages ({cut} cut "
        f"short by the kill); "
        f"{len(duplicates)} messages reported more than once (at least once, by design), "
        f"{log_duplicates} extra delivered entries in the attempt log"
    )


# -- ids across a crash -----------------------------------------------------------------------


def test_a_job_accepted_just_before_a_crash_keeps_its_ids_unique(tmp_path: Path) -> None:
    # A long flush interval makes "the crash came before the next flush" certain; with the
    # default 0.2 s it happens whenever the kill follows the acceptance within 0.2 s.
    server = frozen(tmp_path, MOCK_HYBER_STORE_FLUSH_INTERVAL="30")
    with server:
        with server.client() as http:
            first = send_sync(http, batch(["380501110001", "380501110002"]))
            first_job = http.get("/_mock/jobs").json()["jobs"][0]["job_id"]
        server.kill()
        server.start()
        with server.client() as http:
            assert http.get(f"/_mock/jobs/{first_job}").status_code == 200  # committed
            second = send_sync(http, batch(["380501110003", "380501110004"]))
            jobs = [job["job_id"] for job in http.get("/_mock/jobs").json()["jobs"]]
            first_ids = {item["message_id"] for item in first}
            second_ids = {item["message_id"] for item in second}
            assert not first_ids & second_ids, "message ids drawn twice"
            assert len(jobs) == 2 and first_job in jobs, f"the first job was replaced: {jobs}"
            assert health(http)["messages"] == 4


# -- the clock ------------------------------------------------------------------------------


def test_a_frozen_clock_stays_at_its_saved_time_across_a_crash(tmp_path: Path) -> None:
    server = frozen(tmp_path)
    with server:
        with server.client() as http:
            items = send_sync(http, batch(["380000000001", "380000000003"], viber_ttl=60))
            ids = [item["message_id"] for item in items]
            http.post("/_mock/clock/advance", json={"seconds": 61.5}).raise_for_status()
            assert clock(http)["now_ms"] == START_MS + 61_500
            time.sleep(1.0)  # several flushes (every 0.2 s) happen
        server.kill()  # no shutdown flush: what is on disk is what the periodic flush wrote

        server.start()
        with server.client() as http:
            state = clock(http)
            assert state["frozen"] is True
            assert state["now_ms"] == START_MS + 61_500  # no downtime added to a frozen clock
            time.sleep(0.5)
            assert clock(http)["now_ms"] == START_MS + 61_500
            views = [http.get(f"/_mock/messages/{mid}").json() for mid in ids]
            assert [view["state"] for view in views] == ["delivered", "active"]
            # The second message is on SMS now (viber expired at 60 s): 300 s to go.
            http.post("/_mock/clock/advance", json={"seconds": 298}).raise_for_status()
            assert http.get(f"/_mock/messages/{ids[1]}").json()["state"] == "active"
            http.post("/_mock/clock/advance", json={"seconds": 1}).raise_for_status()
            final = http.get(f"/_mock/messages/{ids[1]}").json()
            assert final["state"] == "failed"
            assert final["report"]["hyber_status"] == 35015  # SMS expired, at its ttl


# -- restarts in-process -----------------------------------------------------------------------
# A graceful stop and a new app on the same database is a restart as far as the store is
# concerned (the shutdown flush, then the restore), at a fraction of a process's start-up.


@contextmanager
def in_process(tmp_path: Path | None, **overrides: Any) -> Iterator[httpx.Client]:
    """A LiveServer (frozen clock at START, account 1001 alice/secret), persistent on
    tmp_path/mock.db unless tmp_path is None; stopped gracefully on exit."""
    settings = Settings(
        **{
            "accounts": ACCOUNTS,
            "seed": 11,
            "clock_frozen": True,
            "clock_start": START,
            "store": db_url(tmp_path) if tmp_path is not None else "memory",
            **overrides,
        }
    )
    with LiveServer(settings) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        yield http


def test_a_frozen_clock_advanced_just_before_a_graceful_stop_keeps_its_time(
    tmp_path: Path,
) -> None:
    with in_process(tmp_path, store_flush_interval=60) as http:
        http.post("/_mock/clock/advance", json={"seconds": 12.345}).raise_for_status()
    with in_process(tmp_path) as http:
        assert clock(http)["now_ms"] == START_MS + 12_345
        assert clock(http)["frozen"] is True


def test_a_restart_without_the_database_file_starts_empty(tmp_path: Path) -> None:
    database = tmp_path / "mock.db"
    with in_process(tmp_path) as http:
        assert health(http)["messages"] == 0  # no file yet: a new, empty store
        items = send_sync(http, batch(["380501110001"]))
    assert database.exists()
    with in_process(tmp_path) as http:
        assert health(http)["messages"] == 1  # (the control: the file brings it back)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)

    with in_process(tmp_path) as http:
        assert health(http)["messages"] == 0
        assert http.get("/_mock/jobs").json()["total"] == 0
        answer = http.get(f"/1001/api/dr/{items[0]['message_id']}/simple", auth=AUTH)
        assert answer.status_code == 404 and answer.json()["error_code"] == 11009
    assert database.exists()


def test_reset_wipes_the_database_too(tmp_path: Path) -> None:
    with Receiver() as receiver:
        with in_process(tmp_path) as http:
            items = send_sync(http, batch(["380000000001", "380000000003"], receiver.url))
            advance = {"seconds": 5, "wait_callbacks": True}
            http.post("/_mock/clock/advance", json=advance).raise_for_status()
            assert len(receiver.requests) == 1
            time.sleep(0.5)  # flushed: the database holds the job, a report and the clock
            http.post("/_mock/reset").raise_for_status()
        connection = sqlite3.connect(tmp_path / "mock.db")
        try:
            counts = [
                connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("jobs", "rewrites", "deliveries")
            ]
        finally:
            connection.close()
        assert counts == [0, 0, 0]

        with in_process(tmp_path) as http:
            assert health(http)["messages"] == 0
            assert http.get("/_mock/jobs").json()["total"] == 0
            assert http.get("/_mock/callbacks").json()["total"] == 0
            assert clock(http)["now_ms"] == START_MS  # the start-up clock again
            assert http.get(f"/_mock/messages/{items[1]['message_id']}").status_code == 404
            advance = {"seconds": 400, "wait_callbacks": True}
            http.post("/_mock/clock/advance", json=advance).raise_for_status()
        assert len(receiver.quiet(0.3)) == 1  # nothing of the wiped job comes back


def test_resetting_one_account_keeps_the_progress_of_the_others(tmp_path: Path) -> None:
    two_accounts = {"accounts": "1001:alice:secret,1002:bob:pw", "store_flush_interval": 60}
    with Receiver() as receiver:
        # A long flush interval: only the acceptance commit and the shutdown flush write.
        with in_process(tmp_path, **two_accounts) as http:
            body = batch(["380000000001", "380000000003"], receiver.url)
            answer = http.post("/1002/batch", json=body, auth=("bob", "pw"))
            assert answer.status_code == 200, answer.text
            advance = {"seconds": 400, "wait_callbacks": True}
            http.post("/_mock/clock/advance", json=advance).raise_for_status()
            assert len(receiver.requests) == 2
            before = http.get("/_mock/callbacks", params={"client_id": "1002"}).json()
            http.post("/_mock/reset", params={"client_id": "1001"}).raise_for_status()

        with in_process(tmp_path, **two_accounts) as http:
            time.sleep(0.5)  # time for anything replayed to be sent
            jobs = http.get("/_mock/jobs", params={"client_id": "1002"}).json()["jobs"]
            assert jobs[0]["states"] == {"delivered": 1, "failed": 1}
            after = http.get("/_mock/callbacks", params={"client_id": "1002"}).json()
            assert after["callbacks"] == before["callbacks"]  # the same 2, delivered once
        assert len(receiver.quiet(0.3)) == 2, "account 1002's reports were sent again"


def test_the_memory_store_forgets_everything_on_restart(tmp_path: Path) -> None:
    with in_process(None) as http:  # the default store: memory
        send_sync(http, batch(["380501110001", "380501110002"]))
        job_id = http.get("/_mock/jobs").json()["jobs"][0]["job_id"]
        http.post("/_mock/clock/advance", json={"seconds": 30}).raise_for_status()
        assert health(http)["messages"] == 2
    with in_process(None) as http:
        assert health(http)["messages"] == 0
        assert clock(http)["now_ms"] == START_MS
        answer = http.get(f"/1001/status/{job_id}", auth=AUTH)
        assert answer.status_code == 404 and answer.json()["error_code"] == 11008
    assert not list(tmp_path.iterdir())


# -- what v2 keeps: inputs, not progress --------------------------------------------------------


def test_a_forced_transition_survives_a_crash(tmp_path: Path) -> None:
    """A forced transition is input, like an accepted job: committed before the answer, and
    replayed over the plans after a restart."""
    server = frozen(tmp_path)
    with server:
        with server.client() as http:
            (item,) = send_sync(http, batch(["380671234567"], viber_ttl=60))
            forced = http.post(
                f"/_mock/messages/{item['message_id']}/transition",
                json={"status": "failed", "code": 36037},
            )
            assert forced.status_code == 200, forced.text
        server.kill()
        server.start()
        with server.client() as http:
            view = http.get(f"/_mock/messages/{item['message_id']}").json()
            assert view["state"] == "failed"
            assert view["report"]["hyber_status"] == 36037
            assert view["plan"]["source"] == "forced"


def test_a_store_written_in_another_format_is_refused_with_a_clear_message(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mock.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE messages (message_id TEXT PRIMARY KEY)")
    server = persistent(tmp_path)
    try:
        with pytest.raises(RuntimeError, match="another version of mock_hyber") as refused:
            server.start()
    finally:
        server.kill()
    assert "Traceback" not in str(refused.value)  # a start-up error, not a crash


def test_a_damaged_store_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    """Bytes overwritten in the middle of the database file: the server does not start on
    what is left; it says which file is damaged, in one line, without a traceback."""
    with in_process(tmp_path) as http:
        phones = [f"38067{i:07d}" for i in range(3000)]
        send_sync(http, batch(phones))
    path = tmp_path / "mock.db"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8192] = b"\xde\xad\xbe\xef" * 2048
    path.write_bytes(bytes(data))
    server = persistent(tmp_path)
    try:
        with pytest.raises(RuntimeError, match="damaged") as refused:
            server.start()
    finally:
        server.kill()
    assert "Traceback" not in str(refused.value)
    assert "mock.db" in str(refused.value)
