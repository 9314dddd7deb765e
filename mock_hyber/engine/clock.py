"""The virtual clock. Nothing in the simulation reads wall time: it asks a clock.

Virtual time runs at `speed` times real time from an anchor, can be frozen (speed kept for
resume) and advanced by any non-negative amount. Times are seconds since the Unix epoch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime


def iso_ms(ms: int) -> str:
    """Milliseconds since the epoch as an ISO 8601 UTC timestamp."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


class ClockError(ValueError):
    pass


MAX_SPEED = 1_000_000.0  # virtual seconds per real second
MAX_ADVANCE = 100 * 365 * 86400.0  # seconds one advance may move: 100 years
LATEST_MS = 221_876_841_600_000  # 9000-12-31 UTC: reports and ISO times stay representable


def check_speed(speed: float) -> None:
    if not 0 < speed <= MAX_SPEED:
        raise ClockError(f"speed must be above 0 and at most {MAX_SPEED:,.0f}")


class VirtualClock:
    def __init__(
        self,
        start: float | None = None,
        speed: float = 1.0,
        frozen: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        check_speed(speed)
        self._monotonic = monotonic
        self._anchor_real = monotonic()
        # Whole milliseconds: advancing by 0.1 s ten times lands exactly on a second.
        self._anchor_ms = round((wall() if start is None else float(start)) * 1000)
        self._speed = float(speed)
        self._frozen = frozen

    def now_ms(self) -> int:
        if self._frozen:
            return self._anchor_ms
        return self._anchor_ms + int((self._monotonic() - self._anchor_real) * self._speed * 1000)

    def now(self) -> float:
        return self.now_ms() / 1000

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def frozen(self) -> bool:
        return self._frozen

    def _reanchor(self) -> None:
        self._anchor_ms = self.now_ms()
        self._anchor_real = self._monotonic()

    def set_speed(self, speed: float) -> None:
        check_speed(speed)
        self._reanchor()
        self._speed = float(speed)

    def freeze(self) -> None:
        self._reanchor()
        self._frozen = True

    def resume(self) -> None:
        self._reanchor()
        self._frozen = False

    def check_advance(self, seconds: float) -> None:
        """Raise ClockError, changing nothing, if `advance(seconds)` cannot be done."""
        if seconds < 0:
            raise ClockError("the clock cannot go back: seconds must be >= 0")
        if seconds > MAX_ADVANCE:
            raise ClockError(f"seconds must be at most {MAX_ADVANCE:,.0f} (100 years)")
        if self.now_ms() + round(seconds * 1000) > LATEST_MS:
            raise ClockError("the clock cannot go past the year 9000")

    def advance(self, seconds: float) -> None:
        self.check_advance(seconds)
        self._reanchor()
        self._anchor_ms += round(seconds * 1000)

    def set_time(self, epoch_seconds: float) -> None:
        """Jump to a point in time; only forward, so no planned event is skipped backwards."""
        self.advance(max(0.0, epoch_seconds - self.now()))

    def real_seconds_until(self, virtual_epoch: float) -> float | None:
        """Real seconds until the clock reads `virtual_epoch`; None while frozen (never)."""
        if self._frozen:
            return None
        return max(0.0, (virtual_epoch - self.now()) / self._speed)
