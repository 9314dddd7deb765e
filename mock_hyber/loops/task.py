"""What every background loop shares: one named asyncio task, started and cancelled, that
survives an exception in one item of its work (logged and counted) and is reported dead if
the task itself ends by one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterable
from typing import Any

log = logging.getLogger("mock_hyber")


class Loop:
    """A background task running `run()`; `start()` inside the event loop, `stop()` cancels
    it and waits for it to end. `failed(what)` logs and counts an item that raised."""

    name = "mock-hyber-loop"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self.errors = 0  # items that raised, the loop going on
        self.dead: str | None = None  # why the loop itself stopped, if it did

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._supervised(), name=self.name)

    def run(self) -> Coroutine[Any, Any, None]:
        raise NotImplementedError

    def failed(self, what: str) -> None:
        """Call from an `except` around one item: the traceback is logged, the error counted."""
        self.errors += 1
        log.exception("%s (the %s loop goes on)", what, self.name)

    async def _supervised(self) -> None:
        try:
            await self.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in the loop itself: say so, and show it in health
            self.dead = f"{type(exc).__name__}: {exc}"
            log.exception("the %s loop stopped", self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class WokenLoop(Loop):
    """A loop over the accounts that sleeps until `wake()` (new work) or its own timeout."""

    def __init__(self, accounts: Iterable[Any]) -> None:
        super().__init__()
        self.accounts = list(accounts)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()
