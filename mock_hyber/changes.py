"""Change notification for long-polls: `wait()` returns at the next `bump()` or on timeout."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


class Changes:
    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self.waiting = 0  # long-polls open now
        self.shared: dict[Any, Any] = {}  # what open long-polls share (see api.control)
        self.revision = 0  # counts the bumps: the dashboard's pages compare it, for nothing

    def bump(self) -> None:
        self.revision += 1
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self, timeout: float) -> None:
        if self._event is None:
            self._event = asyncio.Event()
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=max(0.0, timeout))
