"""Views over every held job are worked out in slices between requests (issue 10: keep the
event loop free of long work). The first look at jobs nobody read plans them: 300,000 such
messages are a few hundred milliseconds of work, and a request that arrives meanwhile must
not wait for all of it. Each case sends the slow request, then, once the server is busy with
it, a health check: the health check must be answered first."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_hyber.config import Settings
from mock_hyber.testing.server import LiveServer
from tests.receiver import Receiver

ALICE = ("alice", "secret")
JOBS, RECIPIENTS = 6, 50_000


def broadcast(first: int, callback_url: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "recipients": [{"phone_number": 380_670_000_000 + first + i} for i in range(RECIPIENTS)],
        "channels": ["viber", "sms"],
        "channel_options": {
            "viber": {"ttl": 60, "text": "Hi"},
            "sms": {"ttl": 300, "alpha_name": "Shop", "text": "Hi"},
        },
    }
    if callback_url:
        body["callback_url"] = callback_url
    return body


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    settings = Settings(
        accounts="1001:alice:secret",
        seed=3,
        clock_frozen=True,
        clock_start="2026-01-01T00:00:00Z",
        callback_breaker_threshold=0,
    )
    with LiveServer(settings) as live:
        yield live


def hold_unread_jobs(server: LiveServer, callback_url: str | None = None) -> None:
    """JOBS large broadcasts nobody has read (their lives not planned yet), filled."""
    httpx.post(f"{server.url}/_mock/reset").raise_for_status()
    with httpx.Client(base_url=f"{server.url}/1001", auth=ALICE, timeout=60) as http:
        for job in range(JOBS):
            http.post("/broadcast", json=broadcast(job * RECIPIENTS, callback_url))
    store = server.backend.accounts["1001"].store
    deadline = time.monotonic() + 60
    while store.filling and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not store.filling


def health_first(server: LiveServer, method: str, path: str, body: Any = None) -> list[str]:
    """Which of the two answers came first: the slow request's or the health check's."""

    async def scenario() -> list[str]:
        order: list[str] = []
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:

            async def slow() -> None:
                (await http.request(method, path, json=body)).raise_for_status()
                order.append("slow")

            async def health() -> None:
                (await http.get("/_mock/health")).raise_for_status()
                order.append("health")

            await http.get("/_mock/health")  # the connection pool warmed up
            slow_task = asyncio.create_task(slow())
            await asyncio.sleep(0.02)  # the server is at work on it now (for 200 ms or more)
            await health()
            await slow_task
        return order

    return asyncio.run(scenario())


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/_mock/clock", None),  # counts the moments still to come: plans every job
        ("POST", "/_mock/clock/advance", {"seconds": 1}),
        ("GET", "/metrics", None),  # final counts and pending events of every job
        ("GET", "/_mock/messages?status=final&limit=0", None),
    ],
)
def test_a_view_over_every_job_lets_other_requests_in(
    server: LiveServer, method: str, path: str, body: Any
) -> None:
    hold_unread_jobs(server)
    assert health_first(server, method, path, body) == ["health", "slow"]


def test_an_advance_that_makes_many_reports_due_lets_other_requests_in(
    server: LiveServer,
) -> None:
    """An advance reports every moment due by then before it answers (300,000 callback
    reports here): that is done in slices too."""
    with Receiver() as receiver:
        hold_unread_jobs(server, f"{receiver.url}/dr")
        faults = {"callbacks": {"drop": 1.0}}  # recorded, not sent: the receiver stays idle
        httpx.put(f"{server.url}/_mock/faults", json=faults).raise_for_status()
        order = health_first(server, "POST", "/_mock/clock/advance", {"seconds": 3600})
        counted = server.backend.accounts["1001"].outbox.deliveries
    assert order == ["health", "slow"]
    assert len(counted) == JOBS * RECIPIENTS  # every report was made before the answer
