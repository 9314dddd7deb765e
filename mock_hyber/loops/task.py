"""What every background loop shares: one named asyncio task, started and cancelled."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


class Loop:
    """A background task running `run()`; `start()` inside the event loop, `stop()` cancels
    it and waits for it to end."""

    name = "mock-hyber-loop"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name=self.name)

    def run(self) -> Coroutine[Any, Any, None]:
        raise NotImplementedError

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
