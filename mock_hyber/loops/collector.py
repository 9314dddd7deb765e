"""Keeps Python's cyclic garbage collector off the held data.

What the mock holds lives long (jobs, their columns, the callback log), and a full collection
walks every tracked object: with a large store, each pass stalls every request for tens to
hundreds of milliseconds. Once a second this loop collects the young generations and freezes
what survived (`gc.freeze()`: moved to the permanent generation, never walked again; it is
still freed by reference counting when a job is dropped, as held data forms no cycles). A
reset unfreezes everything, so one full collection can reclaim what was frozen. The freezer
runs only in a process the mock owns (`mock-hyber serve`), never in a host program.
"""

from __future__ import annotations

import asyncio
import gc
import logging

from mock_hyber.loops.task import Loop

log = logging.getLogger("mock_hyber")
INTERVAL = 1.0  # real seconds between freezes


def freeze_survivors() -> None:
    gc.collect(1)
    gc.freeze()


def thaw() -> None:
    """Make frozen objects collectable again (after a reset dropped most of them)."""
    gc.unfreeze()


class Collector(Loop):
    name = "gc-freeze"

    async def run(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL)
            try:
                freeze_survivors()
            except Exception:  # never expected; the loop must not die silently
                self.failed("freezing the held data failed")
