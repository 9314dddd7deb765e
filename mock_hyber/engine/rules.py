"""Scenario rules and magic numbers: data that decides chosen outcomes.

A rule matches a message (phone, extra_id, tag, channel) and says what happens on each leg:
`channels` by channel name, `legs` by position (first channel, next channel, ...), `otherwise`
for the legs neither covers (left out: the random profile decides), or `blocked` / `reject`.
Magic numbers are rules whose match is one exact phone number.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mock_hyber.engine.plan import LegPlan
from mock_hyber.model import CHANNEL_NAMES

MAX_DELAY = 604800.0  # 7 days: keeps every planned moment within the script's 49-day range
MAX_CODE = 2**32 - 1  # a moment's code is a uint32 in the message's script
MAX_CLICKS = 1_000_000


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class LegSpec(BaseModel):
    """One leg's outcome. Times in seconds: `after` from the leg's start (for `late`: after its
    ttl), `seen_after` and `clicks_after` from the delivery."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["delivered", "failed", "expired", "late"]
    after: float = Field(1.0, ge=0, le=MAX_DELAY)
    event: str | None = Field(None, description="catalogue event, e.g. failed_absent")
    code: int | None = Field(None, ge=0, le=MAX_CODE, description="explicit hyber_status to report")
    seen_after: float | None = Field(None, ge=0, le=MAX_DELAY)
    clicks: int = Field(0, ge=0, le=MAX_CLICKS)
    clicks_after: float = Field(10.0, ge=0, le=MAX_DELAY)

    def to_leg(self) -> LegPlan:
        return LegPlan(
            outcome=self.outcome,
            after_ms=_ms(self.after),
            event=self.event,
            code=self.code,
            seen_after_ms=None if self.seen_after is None else _ms(self.seen_after),
            clicks=self.clicks,
            clicks_after_ms=_ms(self.clicks_after),
        )


class Match(BaseModel):
    """Regular expressions (full match) on phone, extra_id and tag; a channel in the request."""

    model_config = ConfigDict(extra="forbid")

    phone: str | None = None
    extra_id: str | None = None
    tag: str | None = None
    channel: Literal["push", "viber", "sms", "whatsapp"] | None = None

    @field_validator("phone", "extra_id", "tag")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regular expression {value!r}: {exc}") from None
        return value


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    summary: str = ""
    match: Match = Field(default_factory=Match)
    channels: dict[str, LegSpec] = Field(default_factory=dict)
    legs: list[LegSpec] = Field(default_factory=list)
    otherwise: LegSpec | None = None
    blocked: bool = False
    blocked_after: float = Field(0.0, ge=0, le=MAX_DELAY)
    reject: int | None = Field(None, description="refuse at acceptance with this error code")

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: dict[str, LegSpec]) -> dict[str, LegSpec]:
        unknown = set(value) - set(CHANNEL_NAMES)
        if unknown:
            raise ValueError(f"unknown channels: {sorted(unknown)}")
        return value

    def leg_spec(self, position: int, channel: str) -> LegSpec | None:
        if channel in self.channels:
            return self.channels[channel]
        if position < len(self.legs):
            return self.legs[position]
        return self.otherwise


class CompiledRule:
    """A rule with its regular expressions compiled, ready to match messages fast."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.phone = re.compile(rule.match.phone) if rule.match.phone else None
        self.extra_id = re.compile(rule.match.extra_id) if rule.match.extra_id else None
        self.tag = re.compile(rule.match.tag) if rule.match.tag else None

    def matches(
        self, phone: str, extra_id: str | None, tag: str | None, channels: tuple[str, ...]
    ) -> bool:
        match = self.rule.match
        if self.phone and not self.phone.fullmatch(phone):
            return False
        if self.extra_id and (extra_id is None or not self.extra_id.fullmatch(extra_id)):
            return False
        if self.tag and (tag is None or not self.tag.fullmatch(tag)):
            return False
        return not (match.channel and match.channel not in channels)


class ScenarioFile(BaseModel):
    """What `PUT /_mock/scenarios` and the `scenarios_file` setting take."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=list)
    profile: dict[str, Any] | None = Field(
        None, description="per-channel overrides of the random profile (same keys as the file)"
    )


class MagicNumber(Rule):
    phone: str


def load_magic() -> list[MagicNumber]:
    text = resources.files("mock_hyber.engine").joinpath("data/magic.yaml").read_text("utf-8")
    return [MagicNumber.model_validate(item) for item in yaml.safe_load(text)]


def parse_scenarios(text: str | bytes) -> ScenarioFile:
    """YAML or JSON (JSON is YAML) scenario text."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML or JSON: {exc}") from None
    if isinstance(data, list):
        data = {"rules": data}
    _check_utf8(data)
    return ScenarioFile.model_validate(data)


def _check_utf8(data: Any) -> None:
    """YAML reads a lone surrogate escape ("\\ud801") into a str no answer can encode: such
    text is refused before anything of it is kept."""
    try:
        json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid UTF-8 text (a lone surrogate escape)") from None


def load_scenarios(path: str | Path) -> ScenarioFile:
    return parse_scenarios(Path(path).read_text(encoding="utf-8"))
