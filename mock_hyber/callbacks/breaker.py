"""A circuit breaker for each callback destination of one account, on that account's clock.

After `threshold` failed attempts in a row a destination's breaker opens: attempts that fall
due while it is open are recorded as failed without a request (`circuit open ...`) and follow
their normal retry schedule, so a dead receiver costs no worker and no real time. After
`open_ms` of virtual time one probe attempt goes out (half-open): its success closes the
breaker, its failure opens it again for twice as long, up to `open_max_ms`. Only virtual time
and attempt outcomes decide, so a replay against the same receivers takes the same path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mock_hyber.config import Settings
from mock_hyber.engine.clock import iso_ms

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    threshold: int  # failed attempts in a row that open it; 0: never opens
    open_ms: int
    open_max_ms: int

    @classmethod
    def of(cls, settings: Settings) -> BreakerPolicy:
        open_s = settings.callback_breaker_open
        return cls(
            threshold=settings.callback_breaker_threshold,
            open_ms=int(open_s * 1000),
            open_max_ms=int(max(settings.callback_breaker_open_max, open_s) * 1000),
        )


@dataclass(slots=True)
class Breaker:
    state: str = CLOSED
    failures: int = 0  # failed attempts in a row
    trips: int = 0  # times opened since it last closed: the open period doubles with each
    until_ms: int = 0  # while open: when the probe may go
    probing: bool = False  # half-open: the probe is in flight
    attempts: int = 0  # requests made (held attempts not counted)
    failed_attempts: int = 0
    held: int = 0  # attempts recorded as failed without a request while open
    last_error: str | None = None
    last_error_ms: int | None = None
    reason: str = ""  # why attempts are held while open (made once per opening)

    def view(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "failures_in_a_row": self.failures,
            "open_until": iso_ms(self.until_ms) if self.state == OPEN else None,
            "times_opened": self.trips,
            "attempts": self.attempts,
            "failed_attempts": self.failed_attempts,
            "held_attempts": self.held,
            "last_error": self.last_error,
            "last_error_at": None if self.last_error_ms is None else iso_ms(self.last_error_ms),
        }


class Breakers:
    """The breakers of one account's destinations (scheme://host:port)."""

    def __init__(self, policy: BreakerPolicy) -> None:
        self.policy = policy
        self._by_destination: dict[str, Breaker] = {}

    def holding(self, destination: str, now_ms: int) -> str | None:
        """Why an attempt to `destination` is held now, while its breaker is open; else None
        (this never takes the half-open probe's turn)."""
        breaker = self._by_destination.get(destination)
        if breaker is None or breaker.state != OPEN or now_ms >= breaker.until_ms:
            return None
        breaker.held += 1
        return breaker.reason

    def admit(self, destination: str, now_ms: int) -> str | None:
        """None when an attempt to `destination` may be made now; else why it is held."""
        breaker = self._by_destination.get(destination)
        if breaker is None or breaker.state == CLOSED:
            return None
        if breaker.state == OPEN:
            held = self.holding(destination, now_ms)
            if held is not None:
                return held
            breaker.state, breaker.probing = HALF_OPEN, False
        if breaker.probing:
            breaker.held += 1
            return "circuit half-open, its probe attempt is in flight: not sent"
        breaker.probing = True
        return None

    def half_open(self, destination: str) -> bool:
        breaker = self._by_destination.get(destination)
        return breaker is not None and breaker.state == HALF_OPEN

    def result(self, destination: str, error: str | None, now_ms: int) -> None:
        """The outcome of a request made to `destination` (`error` None: answered 2xx)."""
        breaker = self._by_destination.get(destination)
        if breaker is None:
            breaker = self._by_destination[destination] = Breaker()
        breaker.attempts += 1
        if error is None:
            breaker.state, breaker.failures, breaker.trips = CLOSED, 0, 0
            breaker.probing = False
            return
        breaker.failed_attempts += 1
        breaker.failures += 1
        breaker.last_error, breaker.last_error_ms = error, now_ms
        threshold = self.policy.threshold
        tripped = breaker.state == CLOSED and threshold and breaker.failures >= threshold
        if breaker.state == HALF_OPEN or tripped:
            breaker.trips += 1
            period = self.policy.open_ms * 2 ** min(breaker.trips - 1, 30)
            breaker.until_ms = now_ms + min(period, self.policy.open_max_ms)
            breaker.state, breaker.probing = OPEN, False
            breaker.reason = (
                f"circuit open until {iso_ms(breaker.until_ms)} after "
                f"{breaker.failures} failed attempts in a row: not sent"
            )

    def get(self, destination: str) -> Breaker | None:
        return self._by_destination.get(destination)

    def __iter__(self) -> Iterator[tuple[str, Breaker]]:
        return iter(list(self._by_destination.items()))
