"""Phone numbers: international format without '+', sent as a JSON number or a digit string."""

from __future__ import annotations

import re
from typing import Any

import orjson


def normalize_phone(value: Any, pattern: re.Pattern[str]) -> str | None:
    """The phone as a digit string, or None when it is not a correct number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        return None
    return text if pattern.fullmatch(text) else None


def echo_phone(value: Any) -> str:
    """How a rejected recipient's phone_number is echoed back: always as a string."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # nested past orjson's depth limit
        return ""
