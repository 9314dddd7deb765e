"""The intake loop: fills the recipient columns of large async jobs after their answer, one
slice at a time, so no request waits behind a 50,000-recipient one. Reading a job that is
still filling finishes it first (see store.memory), so nothing is ever seen half-filled."""

from __future__ import annotations

import asyncio
import logging

from mock_hyber.loops.task import WokenLoop
from mock_hyber.state import AccountState

log = logging.getLogger("mock_hyber")


class Intake(WokenLoop):
    name = "intake"
    accounts: list[AccountState]

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            busy = True
            while busy:
                busy = False
                for account in self.accounts:
                    try:
                        busy = account.store.fill_slice() or busy
                    except Exception:  # a bug: logged, and the job is finished by its reader
                        self.failed(f"filling a job of account {account.client_id} failed")
                await asyncio.sleep(0)  # requests get their turn between slices
