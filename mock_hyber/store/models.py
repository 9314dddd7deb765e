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
    begin_ms: int = 0  # when the cascade starts: acceptance, or a later start_time
    route: Any = None  # engine.plan.Route, set when the engine admits the job
    planner: Any = None  # engine.planner.Planner in force at acceptance

    def options(self, channel: str) -> dict[str, Any]:
        return self.channel_options[channel]


@dataclass(slots=True, eq=False)
class Message:
    """One recipient of a job. Its life is `script` (planned moments, see engine.timeline);
    `step` counts the moments that have happened. Everything reported derives from both."""

    message_id: str
    job: Job
    phone: str
    extra_id: str | None
    accepted: bool
    state: State
    # Batch: the item's text for every channel. Broadcast: the rendered values, per channel.
    text: str | None = None
    personal: dict[str, dict[str, str]] | None = None
    sms_parts: int = 0
    error_code: int | None = None  # refusal at acceptance, or the final failure's code
    error_text: str | None = None  # set when it differs from the catalogue's text
    script: bytes | None = None
    step: int = 0

    @property
    def created_ms(self) -> int:
        return self.job.created_ms

    def option(self, channel: str, name: str) -> Any:
        """A channel option as this recipient gets it (after substitution and batch text)."""
        if self.personal is not None:
            value = self.personal.get(channel, {}).get(name)
            if value is not None:
                return value
        if name == "text" and self.text is not None:
            return self.text
        return self.job.channel_options[channel].get(name)
