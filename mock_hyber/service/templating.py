"""Broadcast personalisation: `%key%` in any string option of `channel_options` takes the value
of that key in the recipient's own object.

Rules the Hyber docs leave open, as mock_hyber defines them:
- a key is letters, digits, `_`, `.` or `-`, and is case-sensitive;
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
    return orjson.dumps(value).decode()


class MissingVariable(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


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
                return as_text(recipient[key])
            if self.missing == "keep":
                return match.group(0)
            if self.missing == "empty":
                return ""
            raise MissingVariable(key)

        rendered: dict[str, dict[str, str]] = {}
        for channel, name, value in self.fields:
            rendered.setdefault(channel, {})[name] = PLACEHOLDER.sub(substitute, value)
        return rendered
