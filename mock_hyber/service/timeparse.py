"""`start_time` parsing: 'YYYY-MM-DD hh:mm:ss' with an optional offset; Kyiv time without one."""

from __future__ import annotations

import re
from datetime import datetime

from mock_hyber.model import KYIV

_FORMAT = re.compile(
    r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?\s*(Z|[+-]\d{2}(:?\d{2})?)?"
)


def parse_start_time(value: str) -> float:
    """Epoch seconds of `value`. Accepts a space or 'T' separator, fractional seconds,
    and offsets as +hh:mm, +hhmm, +hh or Z. Raises ValueError on anything else."""
    text = value.strip()
    if not _FORMAT.fullmatch(text):
        raise ValueError(value)
    moment = datetime.fromisoformat(text.replace(" Z", "Z").replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=KYIV)
    return moment.timestamp()
