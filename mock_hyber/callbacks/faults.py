"""Callback faults: off by default; when on, each decision is drawn from the account's seeded
callback random source, so a rerun with the same seed injects the same faults."""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict, Field


class DelayFault(BaseModel):
    model_config = ConfigDict(extra="forbid")

    probability: float = Field(0.0, ge=0, le=1)
    seconds: float = Field(30.0, ge=0, description="virtual seconds added before the 1st try")


class ReorderFault(BaseModel):
    model_config = ConfigDict(extra="forbid")

    probability: float = Field(0.0, ge=0, le=1)
    window: float = Field(10.0, ge=0, description="held back a random 0..window virtual s")


class CallbackFaults(BaseModel):
    """drop: never sent (recorded as dropped); duplicate: sent twice; delay: sent later;
    reorder: held back a random time so later reports overtake it."""

    model_config = ConfigDict(extra="forbid")

    drop: float = Field(0.0, ge=0, le=1)
    duplicate: float = Field(0.0, ge=0, le=1)
    delay: DelayFault = Field(default_factory=DelayFault)
    reorder: ReorderFault = Field(default_factory=ReorderFault)

    @property
    def active(self) -> bool:
        return bool(
            self.drop or self.duplicate or self.delay.probability or self.reorder.probability
        )


class FaultDecision:
    __slots__ = ("drop", "duplicate", "extra_ms", "note")

    def __init__(self) -> None:
        self.drop = False
        self.duplicate = False
        self.extra_ms = 0
        self.note: list[str] = []


def decide(faults: CallbackFaults, rng: random.Random) -> FaultDecision:
    decision = FaultDecision()
    if not faults.active:
        return decision
    if rng.random() < faults.drop:
        decision.drop = True
        decision.note.append("dropped by fault")
        return decision
    if rng.random() < faults.duplicate:
        decision.duplicate = True
        decision.note.append("duplicated by fault")
    if rng.random() < faults.delay.probability:
        decision.extra_ms += int(faults.delay.seconds * 1000)
        decision.note.append(f"delayed {faults.delay.seconds:g} s by fault")
    if rng.random() < faults.reorder.probability:
        held = int(rng.random() * faults.reorder.window * 1000)
        decision.extra_ms += held
        decision.note.append(f"held back {held / 1000:g} s by reorder fault")
    return decision
