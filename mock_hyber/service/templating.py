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
    """The templated string options of one broadcast, split once into literal text and keys,
    and joined per recipient (no regular expression runs per recipient)."""

    def __init__(self, channel_options: Mapping[str, Mapping[str, Any]], missing: str) -> None:
        self.missing = missing
        # Each value becomes a str.format pattern with positional fields and the keys to fill
        # them: PLACEHOLDER.split gives [text, key, text, key, ..., text].
        self.fields: list[tuple[str, str, str, list[str]]] = []
        for channel, options in channel_options.items():
            for name, value in options.items():
                if not (isinstance(value, str) and PLACEHOLDER.search(value)):
                    continue
                parts = PLACEHOLDER.split(value)
                texts = [part.replace("{", "{{").replace("}", "}}") for part in parts[0::2]]
                pattern = "".join(
                    text + ("{}" if index < len(texts) - 1 else "")
                    for index, text in enumerate(texts)
                )
                self.fields.append((channel, name, pattern, parts[1::2]))

    def __bool__(self) -> bool:
        return bool(self.fields)

    def _value(self, key: str, recipient: Mapping[str, Any]) -> str:
        if key in recipient:
            value = recipient[key]
            if isinstance(value, str):
                return value
            try:
                return as_text(value)
            except UnusableValue:
                raise MissingVariable(key, "cannot be written as text") from None
        if self.missing == "keep":
            return f"%{key}%"
        if self.missing == "empty":
            return ""
        raise MissingVariable(key)

    def render(self, recipient: Mapping[str, Any]) -> dict[str, dict[str, str]]:
        """Rendered values per channel; raises MissingVariable under the `reject` rule."""
        rendered: dict[str, dict[str, str]] = {}
        value = self._value
        for channel, name, pattern, keys in self.fields:
            text = pattern.format(*[value(key, recipient) for key in keys])
            rendered.setdefault(channel, {})[name] = text
        return rendered
