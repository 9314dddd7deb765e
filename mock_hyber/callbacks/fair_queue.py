"""Due callback deliveries waiting for a worker, one line per destination.

Workers take deliveries round-robin across destinations, with at most `per_destination` in
flight to any one of them: a slow, dead, refusing or unresolvable receiver holds at most that
many workers, and every other receiver's reports and retries go out on time.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque

from mock_hyber.callbacks.watch import destination_of
from mock_hyber.model import Delivery


class FairQueue:
    def __init__(self, per_destination: int) -> None:
        self.per_destination = per_destination
        self._waiting: dict[str, deque[Delivery]] = {}
        self._rotation: deque[str] = deque()  # destinations with waiting deliveries, once each
        self._busy: Counter[str] = Counter()
        self._size = 0
        self._changed = asyncio.Condition()

    def qsize(self) -> int:
        return self._size

    @property
    def in_flight(self) -> int:
        return sum(self._busy.values())

    async def put(self, delivery: Delivery) -> None:
        destination = destination_of(delivery.url)
        async with self._changed:
            line = self._waiting.get(destination)
            if line is None:
                line = self._waiting[destination] = deque()
                self._rotation.append(destination)
            line.append(delivery)
            self._size += 1
            self._changed.notify()

    async def get(self) -> tuple[Delivery, str]:
        """The next delivery to attempt and its destination; call `done` after the attempt."""
        async with self._changed:
            while True:
                picked = self._pick()
                if picked is not None:
                    return picked
                await self._changed.wait()

    async def done(self, destination: str) -> None:
        async with self._changed:
            self._busy[destination] -= 1
            if not self._busy[destination]:
                del self._busy[destination]
            self._changed.notify()

    def _pick(self) -> tuple[Delivery, str] | None:
        for _ in range(len(self._rotation)):
            destination = self._rotation.popleft()
            if self._busy[destination] >= self.per_destination:
                self._rotation.append(destination)  # full: the next destination's turn
                continue
            line = self._waiting[destination]
            delivery = line.popleft()
            self._size -= 1
            if line:
                self._rotation.append(destination)
            else:
                del self._waiting[destination]
            self._busy[destination] += 1
            return delivery, destination
        return None
