"""The retention loop: applies each account's retention limits every `retention_interval` real
seconds (accepting a job over the message limit applies them at once as well)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from mock_hyber.state import Backend

log = logging.getLogger("mock_hyber.store")


class Retention:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="retention")

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

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.backend.settings.retention_interval)
            try:
                self.run_once()
            except Exception:
                log.exception("retention failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
