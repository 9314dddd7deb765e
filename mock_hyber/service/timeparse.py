"""`start_time` parsing: 'YYYY-MM-DD hh:mm:ss' with an optional offset; Kyiv time without one."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

KYIV = ZoneInfo("Europe/Kyiv")


def parse_start_time(value: str) -> float:
    """Epoch seconds of `value`. Accepts a space or 'T' separator, fractional seconds,
    and offsets as +hh:mm, +hhmm, +hh or Z. Raises ValueError on anything else."""
    text = value.strip()
    if len(text) < 19 or text[4] != "-" or text[10] not in " T":
        raise ValueError(value)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=KYIV)
    return moment.timestamp()
