"""Say what happens to each callback destination: a WARNING when it starts failing, a summary
at most once a minute while it stays down, and an INFO line when it recovers. Failed attempts
are never silent, and a dead receiver does not flood the log either."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

log = logging.getLogger("mock_hyber.callbacks")
SUMMARY_EVERY = 60.0  # real seconds between two summaries of a destination still failing


@lru_cache(maxsize=4096)
def destination_of(url: str) -> str:
    """scheme://host:port, what a receiver is known by in the log."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return f"{parts.scheme}://{parts.hostname}:{port}"
    except ValueError:
        return url


@dataclass(slots=True)
class _Down:
    since: float
    failures: int = 1
    unreported: int = 0
    last_summary: float = 0.0
    last_error: str = ""


class DestinationWatch:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._down: dict[str, _Down] = {}

    def attempted(self, url: str, error: str | None) -> None:
        """Record one attempt's outcome (`error` None: the receiver answered 2xx)."""
        destination = destination_of(url)
        down = self._down.get(destination)
        now = self._clock()
        if error is None:
            if down is not None:
                del self._down[destination]
                log.info(
                    "callbacks to %s recovered after %d failed attempts in %.0f s",
                    destination,
                    down.failures,
                    now - down.since,
                )
            return
        if down is None:
            self._down[destination] = _Down(since=now, last_summary=now, last_error=error)
            log.warning("callbacks to %s are failing: %s", destination, error)
            return
        down.failures += 1
        down.unreported += 1
        down.last_error = error
        if now - down.last_summary >= SUMMARY_EVERY:
            log.warning(
                "callbacks to %s still failing: %d more failed attempts in %.0f s, last: %s",
                destination,
                down.unreported,
                now - down.last_summary,
                error,
            )
            down.unreported, down.last_summary = 0, now

    def failing(self) -> dict[str, int]:
        """Destinations failing now, with their failed attempts so far."""
        return {destination: down.failures for destination, down in self._down.items()}
