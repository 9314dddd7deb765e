"""Broadcast personalisation: `%key%` in any string option of `channel_options`, and in the
top-level `tag`, `callback_url` and `division_code`, takes the value of that key in the
recipient's own object.

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

from mock_hyber.model import REQUEST
from mock_hyber.schemas.limits import PLACEHOLDER

TEMPLATED_TOP_LEVEL = ("tag", "callback_url", "division_code")


def template_sources(
    channel_options: Mapping[str, Mapping[str, Any]], top_level: Mapping[str, Any]
) -> dict[str, Mapping[str, Any]]:
    """What a broadcast's `%key%` may appear in: every channel option and the top-level
    string fields (under the key REQUEST), as the docs say variables serve "all query
    parameters". `start_time` is the job's, not a recipient's: it is not templated."""
    sources: dict[str, Mapping[str, Any]] = dict(channel_options)
    top = {name: top_level[name] for name in TEMPLATED_TOP_LEVEL if top_level.get(name)}
    if top:
        sources[REQUEST] = top
    return sources


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


_templates: dict[tuple[bytes, str], BroadcastTemplate] = {}


class MissingVariable(Exception):
    """A %key% that cannot be filled for this recipient."""

    def __init__(self, key: str, reason: str = "has no value") -> None:
        super().__init__(key)
        self.key = key
        self.reason = reason


_CACHE_SIZE = 256


def template_for(
    channel_options: Mapping[str, Mapping[str, Any]], missing: str
) -> BroadcastTemplate:
    """The compiled template of these options, shared by requests that send the same ones (a
    campaign sent in many small requests compiles its template once)."""
    key = (orjson.dumps(channel_options), missing)
    found = _templates.get(key)
    if found is None:
        if len(_templates) >= _CACHE_SIZE:
            del _templates[next(iter(_templates))]  # the oldest
        found = _templates[key] = BroadcastTemplate(channel_options, missing)
    return found


class BroadcastTemplate:
    """The templated string options of one broadcast, split once into literal text and keys.

    Per recipient only the substitutions are kept (`substitutions`, one text per distinct key,
    stored as a JSON array); a field is rendered from them when it is read (`field`).
    """

    def __init__(self, channel_options: Mapping[str, Mapping[str, Any]], missing: str) -> None:
        self.missing = missing
        self.keys: list[str] = []  # distinct keys, in order of first use
        position: dict[str, int] = {}
        # Each value becomes a str.format pattern with positional fields and, for each field,
        # the position of its key in `keys`: PLACEHOLDER.split gives [text, key, text, ...].
        self.fields: list[tuple[str, str, str, list[int]]] = []
        self._by_name: dict[tuple[str, str], tuple[str, list[int]]] = {}
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
                slots = []
                for key in parts[1::2]:
                    if key not in position:
                        position[key] = len(self.keys)
                        self.keys.append(key)
                    slots.append(position[key])
                self.fields.append((channel, name, pattern, slots))
                self._by_name[(channel, name)] = (pattern, slots)

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

    def substitutions(self, recipient: Mapping[str, Any]) -> list[str]:
        """The text each key takes for this recipient; raises MissingVariable under `reject`."""
        try:  # the common case: every key present, as a string
            values = [recipient[key] for key in self.keys]
            if all(type(value) is str for value in values):
                return values
        except KeyError:
            pass
        value = self._value
        return [value(key, recipient) for key in self.keys]

    def render_substitutions(self, values: list[str]) -> dict[str, dict[str, str]]:
        """Every templated field with these substitutions, per channel."""
        rendered: dict[str, dict[str, str]] = {}
        for channel, name, pattern, slots in self.fields:
            text = pattern.format(*[values[slot] for slot in slots])
            rendered.setdefault(channel, {})[name] = text
        return rendered

    def render(self, recipient: Mapping[str, Any]) -> dict[str, dict[str, str]]:
        """Rendered values per channel; raises MissingVariable under the `reject` rule."""
        return self.render_substitutions(self.substitutions(recipient))

    def templates(self, channel: str, name: str) -> bool:
        return (channel, name) in self._by_name

    def render_one(self, channel: str, name: str, recipient: Mapping[str, Any]) -> str | None:
        """One templated field for this recipient (None: not templated, or not fillable)."""
        found = self._by_name.get((channel, name))
        if found is None:
            return None
        pattern, slots = found
        try:
            return pattern.format(*[self._value(self.keys[slot], recipient) for slot in slots])
        except MissingVariable:
            return None

    def field(self, channel: str, name: str, stored: str) -> str | None:
        """One field rendered from stored substitutions; None when it is not templated."""
        found = self._by_name.get((channel, name))
        if found is None:
            return None
        pattern, slots = found
        values = unpack_substitutions(stored)
        return pattern.format(*[values[slot] for slot in slots])


# One str per recipient holds its substitutions (the smallest object that can): joined by NUL;
# when a value holds a NUL itself (or the first starts with the marker), a JSON array behind
# the marker instead.
_SEPARATOR, _JSON_MARKER = "\x00", "\x01"


def pack_substitutions(values: list[str]) -> str:
    joined = _SEPARATOR.join(values)
    if joined.count(_SEPARATOR) != len(values) - 1 or joined.startswith(_JSON_MARKER):
        return _JSON_MARKER + orjson.dumps(values).decode()
    return joined


def unpack_substitutions(stored: str) -> list[str]:
    if stored.startswith(_JSON_MARKER):
        return list(orjson.loads(stored[1:]))
    return stored.split(_SEPARATOR)
