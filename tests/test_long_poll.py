"""Long-polls cost nothing while they wait: a settled job is not evaluated again, the number
of open polls and what they wait for are capped (issue 10, finding 7)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from mock_hyber.config import Settings
from mock_hyber.testing.server import LiveServer
from tests.callback_helpers import DELIVERED, batch_body

ALICE = ("alice", "secret")


@pytest.fixture
def live() -> Iterator[LiveServer]:
    settings = Settings(
        accounts="1001:alice:secret", seed=3, clock_frozen=True, clock_start="2026-01-01T00:00:00Z"
    )
    with LiveServer(settings) as server:
        yield server


def test_a_settled_job_keeps_its_states(live: LiveServer) -> None:
    with httpx.Client(base_url=live.url, timeout=20) as http:
        http.post("/1001/batch", json=batch_body(None, [DELIVERED] * 3), auth=ALICE)
        job = live.backend.accounts["1001"].store.oldest_job()
        listed = http.get("/_mock/messages", params={"status": "final"}).json()
        assert listed["total"] == 0 and job.settled is None  # still to happen
        http.post("/_mock/clock/advance", json={"seconds": 3600}).raise_for_status()
        listed = http.get("/_mock/messages", params={"status": "final"}).json()
        assert listed["total"] == 3
        assert job.settled is not None  # from now on read, never evaluated again
        assert http.get("/_mock/clock").json()["clocks"]["1001"]["pending_events"] == 0


def test_min_count_is_capped(live: LiveServer) -> None:
    with httpx.Client(base_url=live.url, timeout=20) as http:
        answer = http.get("/_mock/messages", params={"wait": 1, "min_count": 10**12})
        assert answer.status_code == 400, answer.text
        assert answer.json()["error_code"] == 11002


def test_the_open_long_polls_are_capped(live: LiveServer) -> None:
    """64 polls wait (for something that never comes); the 65th is refused with a 429, and
    once they end a new one is taken again."""
    from mock_hyber.api.control import MAX_OPEN_WAITS

    async def scenario() -> tuple[list[int], int, int]:
        params = {"wait": 2, "phone": "380999999999"}
        async with httpx.AsyncClient(base_url=live.url, timeout=20) as http:
            waiting = [
                asyncio.ensure_future(http.get("/_mock/messages", params=params))
                for _ in range(MAX_OPEN_WAITS)
            ]
            await asyncio.sleep(0.5)
            refused = await http.get("/_mock/messages", params=params)
            done = [(await poll).status_code for poll in waiting]
            again = await http.get("/_mock/messages", params={**params, "wait": 0.1})
            return done, refused.status_code, again.status_code

    done, refused, again = asyncio.run(scenario())
    assert done == [200] * MAX_OPEN_WAITS
    assert refused == 429
    assert again == 200


def test_a_count_that_took_long_is_reused_for_fifty_times_its_cost(live: LiveServer) -> None:
    """A shared count of big jobs on the move costs milliseconds: polls make it again no
    sooner than 50x what it took, so waiting polls hold the loop at most 2 % of the time."""
    from mock_hyber.service.inspect import COUNT_SHARE, MatchCount, MessageFilter

    with httpx.Client(base_url=live.url, timeout=20) as http:
        http.post("/1001/batch", json=batch_body(None, [DELIVERED] * 3), auth=ALICE)
    account = live.backend.accounts["1001"]
    counter = MatchCount([account], MessageFilter(status="final"))
    assert not asyncio.run(counter.reached(1, 0.0))  # nothing final yet: counted
    counter.cost = 10.0  # as if that count had taken 10 s
    account.clock.advance(3600)  # now all three are final
    assert not asyncio.run(counter.reached(1, 0.0))  # reused: 500 s have not passed
    counter.cost = 0.0
    assert asyncio.run(counter.reached(3, 0.0))  # a cheap count is made again at once
    assert COUNT_SHARE == 50
