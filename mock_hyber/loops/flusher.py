"""The periodic task that writes progress to the persistence journal (when one is in use)."""

from __future__ import annotations

import asyncio
import logging

from mock_hyber.loops.task import Loop
from mock_hyber.state import Backend

log = logging.getLogger("mock_hyber.store")


class Flusher(Loop):
    name = "store-flush"

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend

    def start(self) -> None:
        if self.backend.journal is not None:
            super().start()

    def flush(self) -> None:
        if self.backend.journal is not None:
            self.backend.journal.flush(self.backend.snapshots())

    async def run(self) -> None:
        interval = self.backend.settings.store_flush_interval
        while True:
            await asyncio.sleep(interval)
            try:
                self.flush()
            except Exception:  # keep trying: a full disk may clear up
                self.failed("could not write to the store")

    async def stop(self) -> None:
        await super().stop()
        if self.backend.journal is not None:
            self.backend.journal.close(self.backend.snapshots())
