"""The periodic task that writes progress to the persistence journal (when one is in use)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from mock_hyber.state import Backend

log = logging.getLogger("mock_hyber.store")


class Flusher:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.backend.journal is not None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="store-flush")

    def flush(self) -> None:
        if self.backend.journal is not None:
            self.backend.journal.flush(self.backend.snapshots())

    async def _run(self) -> None:
        interval = self.backend.settings.store_flush_interval
        while True:
            await asyncio.sleep(interval)
            try:
                self.flush()
            except Exception:  # keep trying: a full disk may clear up
                log.exception("could not write to the store")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.backend.journal is not None:
            self.backend.journal.close(self.backend.snapshots())
