"""The retention loop: applies each account's retention limits every `retention_interval` real
seconds (accepting a job over the message limit applies them at once as well)."""

from __future__ import annotations

import asyncio
import logging

from mock_hyber.loops.task import Loop
from mock_hyber.state import Backend

log = logging.getLogger("mock_hyber.store")


class Retention(Loop):
    name = "retention"

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend

    def run_once(self) -> None:
        for account in self.backend.accounts.values():
            jobs, deliveries = account.enforce_retention()
            if jobs or deliveries:
                log.info(
                    "retention removed %d jobs and %d callback deliveries of account %s",
                    jobs,
                    deliveries,
                    account.client_id,
                )

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.backend.settings.retention_interval)
            try:
                self.run_once()
            except Exception:
                self.failed("retention failed")
