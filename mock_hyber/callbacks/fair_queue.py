"""Due callback deliveries waiting for a worker, one line per destination: an account and a
receiver (scheme://host:port).

Workers take deliveries round-robin across destinations, with at most `per_destination` in
flight to any one of them (`limit` may lower it, e.g. to 1 while a circuit breaker probes): a
slow, dead, refusing or unresolvable receiver holds at most that many workers, and every other
receiver's reports and retries go out on time.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable

from mock_hyber.callbacks.watch import destination_of
from mock_hyber.model import Delivery

Destination = tuple[str, str]  # (client_id, scheme://host:port)


def destination_key(delivery: Delivery) -> Destination:
    return delivery.client_id, destination_of(delivery.url)


class FairQueue:
    def __init__(
        self, per_destination: int, limit: Callable[[Destination], int | None] | None = None
    ) -> None:
        self.per_destination = per_destination
        self._limit = limit
        self._waiting: dict[Destination, deque[Delivery]] = {}
        self._rotation: deque[Destination] = deque()  # destinations with waiting deliveries
        self._busy: Counter[Destination] = Counter()
        self._size = 0
        self._changed = asyncio.Condition()

    def qsize(self) -> int:
        return self._size

    @property
    def in_flight(self) -> int:
        return sum(self._busy.values())

    async def put(self, delivery: Delivery) -> None:
        destination = destination_key(delivery)
        async with self._changed:
            line = self._waiting.get(destination)
            if line is None:
                line = self._waiting[destination] = deque()
                self._rotation.append(destination)
            line.append(delivery)
            self._size += 1
            self._changed.notify()

    async def get(self) -> tuple[Delivery, Destination]:
        """The next delivery to attempt and its destination; call `done` after the attempt."""
        async with self._changed:
            while True:
                picked = self._pick()
                if picked is not None:
                    return picked
                await self._changed.wait()

    async def done(self, destination: Destination) -> None:
        async with self._changed:
            self._busy[destination] -= 1
            if not self._busy[destination]:
                del self._busy[destination]
            self._changed.notify()

    def _pick(self) -> tuple[Delivery, Destination] | None:
        for _ in range(len(self._rotation)):
            destination = self._rotation.popleft()
            cap = self.per_destination
            if self._limit is not None:
                cap = min(cap, self._limit(destination) or cap)
            if self._busy[destination] >= cap:
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
