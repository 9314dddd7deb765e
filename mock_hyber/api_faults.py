"""API faults: make provider endpoints answer an error, answer late, or drop the connection.

Off by default. Each fault names an endpoint (or `*`), applies with a probability (drawn from
the account's seeded fault source) and optionally only `count` times. Faults act before the
request is read, so a request answered with a fault is never accepted: nothing is lost.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Endpoint = Literal[
    "*", "single", "batch", "batch_sync", "broadcast", "broadcast_sync", "status", "dr"
]


class ApiFault(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: Endpoint = "*"
    status: int | None = Field(None, ge=400, le=599, description="answer this HTTP status")
    error_code: int | None = Field(None, description="default: 10000 + status")
    error_text: str | None = None
    latency: float = Field(0.0, ge=0, le=60, description="real seconds added before answering")
    drop: bool = Field(False, description="close the connection without a complete answer")
    probability: float = Field(1.0, ge=0, le=1)
    count: int | None = Field(None, ge=1, description="apply only to the next N matches")

    @model_validator(mode="after")
    def _does_something(self) -> ApiFault:
        if self.status is None and not self.drop and not self.latency:
            raise ValueError("a fault needs status, drop or latency")
        return self


@dataclass(frozen=True, slots=True)
class FaultHit:
    latency: float
    status: int | None
    body: dict[str, object] | None
    drop: bool


class ApiFaults:
    """The API faults of one account, with their remaining counts and seeded draws."""

    def __init__(self, new_rng: Callable[[], random.Random]) -> None:
        self._new_rng = new_rng  # the account's fault stream, from its start
        self.set([])

    def set(self, faults: list[ApiFault]) -> None:
        self.faults = list(faults)
        self._remaining = [fault.count for fault in self.faults]
        self.rng = self._new_rng()

    def view(self) -> list[dict[str, object]]:
        return [
            {**fault.model_dump(), "remaining": remaining}
            for fault, remaining in zip(self.faults, self._remaining, strict=True)
        ]

    def hit(self, endpoint: str) -> FaultHit | None:
        for index, fault in enumerate(self.faults):
            if fault.endpoint not in ("*", endpoint):
                continue
            remaining = self._remaining[index]
            if remaining == 0:
                continue
            if fault.probability < 1 and self.rng.random() >= fault.probability:
                continue
            if remaining is not None:
                self._remaining[index] = remaining - 1
            body = None
            if fault.status is not None:
                body = {
                    "error_code": fault.error_code or 10000 + fault.status,
                    "error_text": fault.error_text or f"Injected fault: HTTP {fault.status}",
                }
            return FaultHit(fault.latency, fault.status, body, fault.drop)
        return None
