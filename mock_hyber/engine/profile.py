"""The seeded random profile: per channel, how likely each outcome is and how long things take.

Draws come from `Draws`, a stream of uniforms hashed from the message id and the seed, so a
message's outcome does not depend on what else happens in the process: the same seed and the
same requests give the same plans.
"""

from __future__ import annotations

import hashlib
import math
import struct
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mock_hyber.engine.plan import LegPlan

_WORDS = struct.Struct("<16I")


class Draws:
    """Uniform floats in [0, 1) from BLAKE2b(message id, key=seed), 16 per hash block."""

    __slots__ = ("_block", "_index", "_key", "_source", "_values")

    def __init__(self, source: str, key: bytes) -> None:
        self._source = source.encode()
        self._key = key
        self._block = 0
        self._values: tuple[int, ...] = ()
        self._index = 16

    def uniform(self) -> float:
        if self._index == 16:
            digest = hashlib.blake2b(
                self._source + self._block.to_bytes(4, "little"), key=self._key
            ).digest()
            self._values = _WORDS.unpack(digest)
            self._block += 1
            self._index = 0
        value = self._values[self._index]
        self._index += 1
        return value / 4294967296.0

    def normal(self) -> float:
        # Box-Muller; 1 - u keeps the logarithm's argument above zero.
        u1, u2 = 1.0 - self.uniform(), self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


class Delay(BaseModel):
    """A log-normal delay in seconds: `median` and `sigma` (spread), clipped to [min, max]."""

    model_config = ConfigDict(extra="forbid")

    median: float = Field(gt=0)
    sigma: float = Field(0.5, ge=0)
    min: float = Field(0.0, ge=0)
    max: float = Field(3600.0, gt=0, le=604800)

    def draw_ms(self, draws: Draws) -> int:
        seconds = self.median * math.exp(self.sigma * draws.normal())
        return int(max(self.min, min(self.max, seconds)) * 1000)


class Chance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    probability: float = Field(ge=0, le=1)
    delay: Delay


class Clicks(Chance):
    max: int = Field(3, ge=1)


Outcome = Literal["delivered", "failed", "expired", "late"]


class ChannelProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcomes: dict[Outcome, float]
    failure_events: dict[str, float] = Field(default_factory=lambda: {"failed": 1.0})
    delivery_delay: Delay
    failure_delay: Delay
    late_delay: Delay = Delay(median=30, sigma=1.0, min=1, max=3600)
    seen: Chance | None = None
    clicks: Clicks | None = None

    @model_validator(mode="after")
    def _weights(self) -> ChannelProfile:
        for name, weights in (("outcomes", self.outcomes), ("failure_events", self.failure_events)):
            if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
                raise ValueError(f"{name} needs non-negative weights with a positive sum")
        return self

    def leg(self, draws: Draws) -> LegPlan:
        outcome = _pick(self.outcomes, draws.uniform())
        if outcome == "expired":
            return LegPlan("expired")
        if outcome == "failed":
            event = _pick(self.failure_events, draws.uniform())
            return LegPlan("failed", self.failure_delay.draw_ms(draws), event=event)
        after = (self.delivery_delay if outcome == "delivered" else self.late_delay).draw_ms(draws)
        seen_after = None
        if self.seen is not None and draws.uniform() < self.seen.probability:
            seen_after = self.seen.delay.draw_ms(draws)
        clicks, clicks_after = 0, 0
        if self.clicks is not None and draws.uniform() < self.clicks.probability:
            clicks = 1 + int(draws.uniform() * self.clicks.max)
            clicks_after = self.clicks.delay.draw_ms(draws)
        return LegPlan(
            outcome, after, seen_after_ms=seen_after, clicks=clicks, clicks_after_ms=clicks_after
        )


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sms: ChannelProfile
    viber: ChannelProfile
    whatsapp: ChannelProfile
    push: ChannelProfile

    def channel(self, name: str) -> ChannelProfile:
        profile: ChannelProfile = getattr(self, name)
        return profile


def _pick(weights: dict[str, float], uniform: float) -> str:
    total = sum(weights.values())
    point = uniform * total
    for name, weight in weights.items():
        point -= weight
        if point < 0:
            return name
    return next(reversed(weights))


def load_profile(path: str | Path | None = None) -> Profile:
    if path is None:
        text = resources.files("mock_hyber.engine").joinpath("data/profile.yaml").read_text()
    else:
        text = Path(path).read_text(encoding="utf-8")
    return Profile.model_validate(yaml.safe_load(text))
