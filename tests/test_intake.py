"""Large async requests are answered once checked as a whole; their recipients are filled in
slices afterwards (the intake loop), and anything that reads the job first finishes it. What
the job holds must be exactly what the same request sent synchronously gives."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_hyber.config import Settings
from mock_hyber.testing.server import LiveServer
from tests.receiver import Receiver

ALICE = ("alice", "secret")
COUNT = 3000  # above the deferral threshold (1,000) and more than one slice (2,000)


def recipients(count: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for i in range(count):
        item: dict[str, Any] = {"phone_number": 380_670_000_000 + i, "extra_id": f"x-{i}"}
        if i % 500 == 7:
            item["phone_number"] = "+380 bad"  # rejected alone (36024)
        if i % 700 != 3:
            item["name"] = f"N{i}" * (60 if i % 900 == 5 else 1)  # long names break sms
        items.append(item)
    return items


def broadcast(count: int = COUNT, **top: Any) -> dict[str, Any]:
    return {
        "recipients": recipients(count),
        "channels": ["viber", "sms"],
        "channel_options": {
            "viber": {"ttl": 60, "text": "Hi %name%"},
            "sms": {"ttl": 300, "alpha_name": "Shop", "text": "Dear %name%, " + "x" * 700},
        },
        **top,
    }


def batch(count: int = COUNT) -> dict[str, Any]:
    return {
        "messages": [
            {"phone_number": 380_670_000_000 + i, "text": f"Hello {i} " + "é" * (i % 90)}
            for i in range(count)
        ],
        "channels": ["sms"],
        "channel_options": {"sms": {"ttl": 300, "alpha_name": "Shop"}},
    }


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{live.url}/1001", auth=ALICE, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    settings = Settings(
        accounts="1001:alice:secret",
        seed=5,
        clock_frozen=True,
        clock_start="2026-01-01T00:00:00Z",
        template_missing="reject",
    )
    with LiveServer(settings) as live:
        yield live


@pytest.fixture
def live(server: LiveServer) -> LiveServer:
    reset(server)
    return server


def status_after(server: LiveServer, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """POST the body (async), then read its status report at once."""
    with httpx.Client(base_url=f"{server.url}/1001", auth=ALICE, timeout=30) as http:
        job_id = http.post(path, json=body).raise_for_status().json()["job_id"]
        answer = http.get(f"/status/{job_id}").raise_for_status()
    items: list[dict[str, Any]] = answer.json()["messages"]
    return items


def reset(server: LiveServer) -> None:
    httpx.post(f"{server.url}/_mock/reset").raise_for_status()


@pytest.mark.parametrize(("path", "make"), [("/broadcast", broadcast), ("/batch", batch)])
def test_a_deferred_job_holds_what_the_sync_request_gives(
    live: LiveServer, http: httpx.Client, path: str, make: Any
) -> None:
    deferred = status_after(live, path, make())  # read at once: the read finishes the filling
    reset(live)
    sync = http.post(f"{path}/sync", json=make()).raise_for_status().json()["messages"]
    job_id = live.backend.accounts["1001"].store.oldest_job().job_id
    whole = http.get(f"/status/{job_id}").raise_for_status().json()["messages"]
    assert deferred == whole
    assert [item["message_id"] for item in deferred] == [item["message_id"] for item in sync]
    rejected = [item for item in deferred if not item["accepted"]]
    assert {item["error_code"] for item in rejected} == (
        {36024, 36031} if path == "/broadcast" else set()
    )


def test_the_intake_loop_fills_a_job_nobody_reads(live: LiveServer, http: httpx.Client) -> None:
    store = live.backend.accounts["1001"].store
    http.post("/broadcast", json=broadcast()).raise_for_status()
    deadline = time.monotonic() + 10
    while store.filling and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not store.filling


def test_a_refusal_anywhere_in_the_list_still_refuses_the_whole_request(
    live: LiveServer, http: httpx.Client
) -> None:
    body = broadcast()
    body["recipients"][2500]["extra_id"] = "e" * 65
    answer = http.post("/broadcast", json=body)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == 11002
    assert "recipients[2500].extra_id" in answer.json()["error_text"]
    body = batch()
    body["messages"][2999]["text"] = "y" * 1001
    answer = http.post("/batch", json=body)
    assert answer.status_code == 400
    assert "messages[2999].text" in answer.json()["error_text"]
    assert httpx.get(f"{live.url}/_mock/health").json()["messages"] == 0


def test_a_deferred_job_with_a_callback_reports_every_final_status(
    live: LiveServer, http: httpx.Client
) -> None:
    with Receiver() as receiver, httpx.Client(base_url=f"{live.url}/_mock", timeout=60) as control:
        body = broadcast(1200, callback_url=receiver.url)
        http.post("/broadcast", json=body).raise_for_status()
        control.post("/clock/advance", json={"seconds": 4000, "wait_callbacks": True})
        final = control.get("/messages", params={"status": "final", "limit": 0}).json()
        rejected = control.get("/messages", params={"status": "rejected", "limit": 0}).json()
        assert rejected["total"] > 0
        expected = final["total"] - rejected["total"]  # rejected recipients get no report
        receiver.wait_for(expected, timeout=20)
        reports = receiver.reports()
        assert len(reports) == expected
        assert len({report["message_id"] for report in reports}) == expected


def test_retention_at_capacity_does_not_finish_a_filling_job() -> None:
    """Over the message limit, every accepted job applies retention; that must not make a
    small request fill a large job that is still being filled in slices."""
    settings = Settings(
        accounts="1001:alice:secret", seed=5, clock_frozen=True, retention_max_messages=50_003
    )
    with (
        LiveServer(settings) as server,
        httpx.Client(base_url=f"{server.url}/1001", auth=ALICE, timeout=30) as http,
    ):
        store = server.backend.accounts["1001"].store
        small = {**broadcast(2), "recipients": recipients(2)}
        http.post("/broadcast", json=small).raise_for_status()  # the oldest: retention's
        # The intake loop is held meanwhile: only a read that finishes the job could end its
        # filling (the in-process client and server share the GIL, so a race with the
        # loop would decide nothing).
        store.fill_slice = lambda: bool(store.filling)  # type: ignore[method-assign]
        http.post("/broadcast", json=broadcast(50_000)).raise_for_status()
        http.post("/broadcast", json=small).raise_for_status()  # over the limit: retention
        assert store.filling  # the small request did not wait for the large job
        assert store.job_count == 2  # the first small job went
        del store.fill_slice  # the loop goes on
        deadline = time.monotonic() + 20
        while store.filling and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not store.filling
