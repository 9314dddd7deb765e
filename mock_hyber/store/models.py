"""The stored state of jobs, messages and their channel legs.

Slotted classes keep a million stored messages within about a kilobyte each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class State(IntEnum):
    REJECTED = 0  # refused at acceptance (accepted: false)
    PENDING = 1  # accepted, no channel attempted yet (start_time in the future, or not yet run)
    ACTIVE = 2  # a channel leg is in progress
    DELIVERED = 3  # final: delivered on some channel
    FAILED = 4  # final: no channel delivered, or blocked by the platform

    @property
    def final(self) -> bool:
        return self in (State.REJECTED, State.DELIVERED, State.FAILED)


@dataclass(slots=True, eq=False)
class Job:
    job_id: str
    client_id: str
    kind: str  # "single" | "batch" | "broadcast"
    created_ms: int
    channels: tuple[str, ...]
    channel_options: dict[str, dict[str, Any]]
    callback_url: str | None
    start_ms: int | None
    tag: str | None
    division_code: str | None
    messages: list[Message] = field(default_factory=list)

    def options(self, channel: str) -> dict[str, Any]:
        return self.channel_options[channel]


@dataclass(slots=True, eq=False)
class Leg:
    """One attempt of a message on one channel."""

    channel: str
    ttl: int
    started_ms: int
    code: int  # current hyber_status of the leg
    ended_ms: int | None = None
    delivered_parts: int = 0


@dataclass(slots=True, eq=False)
class Message:
    message_id: str
    job: Job
    phone: str
    extra_id: str | None
    created_ms: int
    accepted: bool
    state: State
    # Batch: the item's text for every channel. Broadcast: the rendered values, per channel.
    text: str | None = None
    personal: dict[str, dict[str, str]] | None = None
    sms_parts: int = 0
    updated_ms: int = 0
    error_code: int | None = None
    error_text: str | None = None  # set when it differs from the catalogue's text
    final_code: int | None = None  # hyber_status of the final outcome
    legs: list[Leg] | None = None
    plan: Any = None
    seen: bool = False
    clicks: int = 0

    def option(self, channel: str, name: str) -> Any:
        """A channel option as this recipient gets it (after substitution and batch text)."""
        if self.personal is not None:
            value = self.personal.get(channel, {}).get(name)
            if value is not None:
                return value
        if name == "text" and self.text is not None:
            return self.text
        return self.job.channel_options[channel].get(name)
