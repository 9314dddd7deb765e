"""Real time on top of the virtual clocks: one asyncio task drains every account's due moments.

It sleeps until the earliest due entry (converted to real seconds by that account's clock
speed), or until woken by new work or a clock change. Work is done in slices so a 50,000
message job never stalls the server for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable

from mock_hyber.loops.task import WokenLoop
from mock_hyber.slicing import SLICE_S, Steps, in_slices
from mock_hyber.state import AccountState

# A slice reports due moments for about SLICE_S real seconds (slicing's), STEP at a time per
# account (each costs tens of µs: its report, its callback body), then other requests go.
STEP = 10
MAX_SLEEP = 1.0  # seconds; a safety net, wake-ups normally come from `wake()`

log = logging.getLogger("mock_hyber.engine")


async def report_due(accounts: Iterable[AccountState]) -> None:
    """Report every moment due by now in these accounts (a clock change, a forced
    transition): STEP at a time per account, in slices between other requests, as the runner
    does. An advance of a day over a large job with callbacks is seconds of work."""
    held = list(accounts)
    for account in held:  # the callback feeder waits: no batch may go before it is filled
        account.engine.catching_up += 1
    try:
        await in_slices(_due_reports(held))
    finally:
        for account in held:
            account.engine.catching_up -= 1
            if account.outbox.wake is not None:
                account.outbox.wake()  # the feeder takes what is due now


def _due_reports(accounts: list[AccountState]) -> Steps[None]:
    for account in accounts:
        now_ms = account.clock.now_ms()
        while not account.engine.run_until(now_ms, budget=STEP):
            yield


class Runner(WokenLoop):
    name = "mock-hyber-engine"
    accounts: list[AccountState]

    def run_slice(self) -> bool:
        """Run due work of every account for a slice; True when all of it is done."""
        deadline = time.perf_counter() + SLICE_S
        while True:
            done = True
            for account in self.accounts:
                if not account.engine.run_until(account.clock.now_ms(), budget=STEP):
                    done = False
            if done or time.perf_counter() >= deadline:
                return done

    def seconds_to_next(self) -> float:
        wait = MAX_SLEEP
        for account in self.accounts:
            due = account.engine.next_due_ms()
            if due is None:
                continue
            seconds = account.clock.real_seconds_until(due / 1000)
            if seconds is not None:
                wait = min(wait, seconds)
        return wait

    async def run(self) -> None:
        while True:
            try:
                done = self.run_slice()
            except Exception:  # a bug must not stop the simulation of everything else
                self.failed("engine step failed")
                done = True
            if not done:
                await asyncio.sleep(0)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.seconds_to_next())
