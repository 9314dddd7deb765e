"""Long work on the shared event loop, written once as a generator that yields between small
steps, and run either at once or in slices of about SLICE_S between other requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator
from typing import TypeVar

T = TypeVar("T")
SLICE_S = 0.001  # real seconds of work before other requests get a turn

Steps = Generator[None, None, T]


def at_once(work: Steps[T]) -> T:
    """Run every step now; the work's result."""
    while True:
        try:
            next(work)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


async def in_slices(work: Steps[T]) -> T:
    """Run the steps, letting other tasks in after each SLICE_S of them; the work's result."""
    started = time.perf_counter()
    while True:
        try:
            next(work)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if time.perf_counter() - started > SLICE_S:
            await asyncio.sleep(0)
            started = time.perf_counter()
