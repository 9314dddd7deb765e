"""Broadcast personalisation: `%key%` in any string option of `channel_options` takes the value
of that key in the recipient's own object.

Rules the Hyber docs leave open, as mock_hyber defines them:
- a key starts with a letter or `_`, then letters, digits, `_`, `.` or `-`; case-sensitive;
- `%` that is not part of `%key%` stays as it is (`50% off` is left alone);
- a key the recipient does not have: `keep` leaves `%key%` in the text (default), `empty`
  replaces it with nothing, `reject` rejects that recipient (error 36031);
- values that are not strings are written as JSON (`true`, `12`, `1.5`); null is empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from mock_hyber.schemas.limits import PLACEHOLDER


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError as exc:  # nested past orjson's depth limit
        raise UnusableValue(str(exc)) from None


class UnusableValue(ValueError):
    pass


class MissingVariable(Exception):
    """A %key% that cannot be filled for this recipient."""

    def __init__(self, key: str, reason: str = "has no value") -> None:
        super().__init__(key)
        self.key = key
        self.reason = reason


class BroadcastTemplate:
    """The templated string options of one broadcast, found once and rendered per recipient."""

    def __init__(self, channel_options: Mapping[str, Mapping[str, Any]], missing: str) -> None:
        self.missing = missing
        self.fields: list[tuple[str, str, str]] = [
            (channel, name, value)
            for channel, options in channel_options.items()
            for name, value in options.items()
            if isinstance(value, str) and PLACEHOLDER.search(value)
        ]

    def __bool__(self) -> bool:
        return bool(self.fields)

    def render(self, recipient: Mapping[str, Any]) -> dict[str, dict[str, str]]:
        """Rendered values per channel; raises MissingVariable under the `reject` rule."""

        def substitute(match: Any) -> str:
            key = match.group(1)
            if key in recipient:
                try:
                    return as_text(recipient[key])
                except UnusableValue:
                    raise MissingVariable(key, "cannot be written as text") from None
            if self.missing == "keep":
                return match.group(0)
            if self.missing == "empty":
                return ""
            raise MissingVariable(key)

        rendered: dict[str, dict[str, str]] = {}
        for channel, name, value in self.fields:
            rendered.setdefault(channel, {})[name] = PLACEHOLDER.sub(substitute, value)
        return rendered
