"""No way into the mock: callbacks and user replies never go to the mock's own address nor to
link-local (cloud metadata) addresses, and the allowlist holds at every send (issue 10,
findings 3 and 4)."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_hyber.callbacks.destinations import Destinations
from mock_hyber.config import Settings
from mock_hyber.testing.server import LiveServer
from tests.callback_helpers import DELIVERED, batch_body, mock_server
from tests.receiver import Receiver

ALICE, BOB = ("alice", "secret"), ("bob", "pw")


def test_a_callback_to_the_mocks_own_reset_is_refused_and_resets_nothing() -> None:
    settings = Settings(
        accounts="1001:alice:secret,2002:bob:pw",
        seed=3,
        clock_frozen=True,
        clock_start="2026-01-01T00:00:00Z",
    )
    with LiveServer(settings) as live, httpx.Client(base_url=live.url, timeout=20) as http:
        http.post("/2002/batch", json=batch_body(None, [DELIVERED]), auth=BOB).raise_for_status()
        for host in ("127.0.0.1", "localhost", "[::1]", "0.0.0.0"):
            url = f"http://{host}:{live.settings.port}/_mock/reset"
            answer = http.post("/1001/batch", json=batch_body(url, [DELIVERED]), auth=ALICE)
            assert answer.status_code == 400, (host, answer.text)
            assert "own address" in answer.json()["error_text"]
        http.post("/_mock/clock/advance", json={"seconds": 60, "wait_callbacks": True})
        jobs = http.get("/_mock/jobs", params={"client_id": "2002"}).json()
        assert jobs["total"] == 1  # account 2002 was not wiped


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/dr",
        "http://metadata.google.internal/computeMetadata/v1/",
    ],
)
def test_link_local_and_metadata_destinations_are_refused(url: str) -> None:
    with mock_server() as mock:
        answer = mock.http.post("/1001/batch", json=batch_body(url, [DELIVERED]), auth=ALICE)
        assert answer.status_code == 400, answer.text
        assert "callback_url" in answer.json()["error_text"]


def test_loopback_is_refused_when_the_setting_says_so() -> None:
    with Receiver() as receiver:
        with mock_server() as mock:  # default: local receivers are fine
            body = batch_body(receiver.url, [DELIVERED])
            assert mock.http.post("/1001/batch", json=body, auth=ALICE).status_code == 200
        with mock_server(callback_block_loopback=True) as mock:
            answer = mock.http.post("/1001/batch", json=body, auth=ALICE)
            assert answer.status_code == 400
            assert "loopback" in answer.json()["error_text"]


def test_an_inbound_url_into_the_metadata_service_is_refused() -> None:
    with mock_server(inbound_url="http://169.254.169.254/reply") as mock:
        items = mock.batch_sync(batch_body(None, [DELIVERED]))
        mock.advance(5)
        answer = mock.http.post("/_mock/inbound", json={"message_id": items[0]["message_id"]})
        assert answer.status_code == 400, answer.text
        assert "inbound_url" in answer.json()["error_text"]
        assert mock.callbacks(kind="inbound") == []


def _persistent(tmp_path: Path, **overrides: Any) -> LiveServer:
    settings = Settings(
        accounts="1001:alice:secret",
        seed=3,
        clock_frozen=True,
        clock_start="2026-01-01T00:00:00Z",
        store=f"sqlite:///{tmp_path / 'mock.db'}",
        **overrides,
    )
    return LiveServer(settings)


def test_the_allowlist_holds_for_restored_deliveries_and_redeliveries(tmp_path: Path) -> None:
    """A report accepted before the allowlist was set is restored from the store; after the
    restart it is refused at its send, and so is its redelivery: the receiver gets nothing."""
    with Receiver() as receiver:
        with _persistent(tmp_path) as live, httpx.Client(base_url=live.url) as http:
            body = batch_body(receiver.url, [DELIVERED])
            http.post("/1001/batch", json=body, auth=ALICE).raise_for_status()
        with (
            _persistent(tmp_path, callback_allowed_hosts="hooks.example.com") as live,
            httpx.Client(base_url=live.url, timeout=20) as http,
        ):
            advance = {"seconds": 60, "wait_callbacks": True}
            http.post("/_mock/clock/advance", json=advance).raise_for_status()
            (delivery,) = http.get("/_mock/callbacks").json()["callbacks"]
            assert delivery["status"] == "failed"
            assert "refused" in delivery["error"] and "callback_allowed_hosts" in delivery["error"]
            http.post(f"/_mock/callbacks/{delivery['id']}/redeliver").raise_for_status()
            http.post("/_mock/clock/advance", json={**advance, "seconds": 1})
            (again,) = http.get("/_mock/callbacks").json()["callbacks"]
            assert again["status"] == "failed" and again["attempt_count"] == 2
        assert receiver.requests == []


def test_a_name_that_resolves_to_the_mock_is_refused_at_its_send() -> None:
    destinations = Destinations([], own_port=8080, own_host="127.0.0.1", block_loopback=False)

    async def resolved_to_loopback(host: str) -> list[Any]:
        return [ipaddress.ip_address("127.0.0.1")]

    destinations._addresses = resolved_to_loopback  # type: ignore[method-assign]
    assert destinations.refusal("http://mock.internal:8080/_mock/reset") is None  # no DNS
    refusal = asyncio.run(destinations.refusal_resolved("http://mock.internal:8080/_mock/reset"))
    assert refusal is not None and "own address" in refusal
    other_port = asyncio.run(destinations.refusal_resolved("http://mock.internal:9000/dr"))
    assert other_port is None


def test_a_failing_destination_is_said_once_then_summarised_then_its_recovery() -> None:
    """Failed attempts are never silent: one WARNING when a destination starts failing, a
    summary at most once a minute while it stays down, one INFO line when it recovers."""
    import logging

    from mock_hyber.callbacks.watch import SUMMARY_EVERY, DestinationWatch

    now = [100.0]
    watch = DestinationWatch(clock=lambda: now[0])
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("mock_hyber.callbacks")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        url = "http://hooks.example:9000/dr"
        for _ in range(500):  # 500 failures within a few seconds: one line
            watch.attempted(url, "HTTP 503")
        now[0] += SUMMARY_EVERY
        watch.attempted(url + "?page=2", "Timeout after 5 s")  # the same destination
        watch.attempted("http://other.example/dr", None)  # a healthy one says nothing
        now[0] += 1
        watch.attempted(url, None)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    lines = [(r.levelname, r.getMessage()) for r in records]
    assert lines == [
        ("WARNING", "callbacks to http://hooks.example:9000 are failing: HTTP 503"),
        (
            "WARNING",
            "callbacks to http://hooks.example:9000 still failing: 500 more failed attempts "
            "in 60 s, last: Timeout after 5 s",
        ),
        (
            "INFO",
            "callbacks to http://hooks.example:9000 recovered after 501 failed attempts in 61 s",
        ),
    ]
    assert watch.failing() == {}


def test_failed_callbacks_reach_the_log_over_http(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with (
        Receiver() as receiver,
        mock_server(callback_max_attempts=2) as mock,
        caplog.at_level(logging.INFO, logger="mock_hyber.callbacks"),
    ):
        receiver.respond([500, 500], default_status=200)
        mock.batch_sync(batch_body(receiver.url, [DELIVERED]))
        mock.advance(5)  # attempt 1: 500
        mock.advance(60)  # attempt 2: 500, the last: failed
        mock.batch_sync(batch_body(receiver.url, [DELIVERED]))
        mock.advance(5)  # a new report: 200
    messages = [r.getMessage() for r in caplog.records if r.name == "mock_hyber.callbacks"]
    assert any("are failing: HTTP 500" in m for m in messages), messages
    assert any("recovered after 2 failed attempts" in m for m in messages), messages


def test_a_slow_and_a_refusing_receiver_do_not_hold_up_a_healthy_one() -> None:
    """60 reports due to a receiver that answers after 3 s and 60 to a refusing port, queued
    before 3 reports to a healthy receiver: the healthy ones arrive at once, well before the
    slow receiver's first answer (issue 10, finding 1: they arrived minutes late)."""
    from tests.receiver import DownReceiver

    with (
        Receiver(delay=3.0) as slow,
        DownReceiver() as down,
        Receiver() as healthy,
        mock_server(callback_timeout=10) as mock,
    ):
        mock.batch_sync(batch_body(slow.url, [DELIVERED] * 60))
        mock.batch_sync(batch_body(down.url, [DELIVERED] * 60))
        mock.batch_sync(batch_body(healthy.url, [DELIVERED] * 3))
        mock.advance(5, wait=False)  # every report is due now
        healthy.wait_for(3, timeout=2.5)  # the slow receiver answers its first after 3 s
        assert len(slow.requests) <= 4 + 4  # at most its share of the workers, twice


def test_the_fair_queue_takes_destinations_in_turn_within_their_cap() -> None:
    from mock_hyber.callbacks.fair_queue import FairQueue
    from mock_hyber.model import Delivery

    def delivery(n: int, host: str) -> Delivery:
        return Delivery(n, "1001", "report", f"http://{host}/dr", b"{}", (), (), 0, 0)

    async def scenario() -> list[str]:
        queue = FairQueue(per_destination=2)
        for n in range(5):
            await queue.put(delivery(n, "slow.example"))
        await queue.put(delivery(9, "fast.example"))
        taken = [await queue.get() for _ in range(3)]  # slow's 2, then its cap: fast's turn
        assert queue.qsize() == 3 and queue.in_flight == 3
        waiting = asyncio.ensure_future(queue.get())  # slow is at its cap: nothing to take
        await asyncio.sleep(0.01)
        assert not waiting.done()
        await queue.done(("1001", "http://slow.example:80"))
        picked = await asyncio.wait_for(waiting, 1)
        return [d.url.split("/")[2] for d, _ in [*taken, picked]]

    assert asyncio.run(scenario()) == [
        "slow.example",
        "fast.example",
        "slow.example",
        "slow.example",
    ]


def test_servers_in_the_suite_resolve_no_outside_name() -> None:
    """The spec fixtures' callback host must not be looked up from a test (tests/conftest.py)."""
    with LiveServer(Settings(accounts="1001:alice:secret")) as live:
        addresses = live.backend.destinations._addresses
        assert asyncio.run(addresses("send-dr-here.com")) == []
        assert asyncio.run(addresses("localhost")) == [ipaddress.ip_address("127.0.0.1")]
