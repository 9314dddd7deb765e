"""Typed results of the control client, and its errors.

Every model is frozen and keeps unknown fields (`extra="allow"`), so a newer server that adds a
field does not break an older client. The provider's own wire shapes (status and delivery
reports) are returned as plain dicts, exactly as the app under test sees them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class MockHyberError(Exception):
    """The server refused a call: its HTTP status and Hyber error body.

    `error_code` and `error_text` come from the `{"error_code": N, "error_text": "..."}` body;
    they are None / the raw text when the answer was not a Hyber error body.
    """

    def __init__(self, status_code: int, error_code: int | None, error_text: str) -> None:
        super().__init__(f"HTTP {status_code}: {error_code} {error_text}")
        self.status_code = status_code
        self.error_code = error_code
        self.error_text = error_text


class MockHyberTimeout(TimeoutError):
    """A bounded wait ended before what it waited for happened; the message says what was seen
    instead."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow", coerce_numbers_to_str=True)


class Health(_Model):
    status: str
    version: str
    seed: int
    accounts: tuple[str, ...]
    messages: int


class Clock(_Model):
    """One account's virtual clock."""

    client_id: str
    now: str  # ISO 8601
    now_ms: int  # milliseconds since the epoch
    speed: float
    frozen: bool
    pending_events: int
    next_event_ms: int | None = None
    scheduled_callbacks: int = 0
    next_callback_ms: int | None = None


class MagicNumber(_Model):
    phone: str
    name: str
    summary: str
    legs: tuple[dict[str, Any], ...] = ()
    otherwise: dict[str, Any] | None = None


class Scenarios(_Model):
    """The scenario rules and random profile in force for one account."""

    rules: tuple[dict[str, Any], ...] = ()
    profile: dict[str, Any] = Field(default_factory=dict)


class PlanMoment(_Model):
    at: str
    at_ms: int
    event: str  # start, delivered, expired, failed, seen, click, late, blocked
    channel: str
    code: int | None = None
    final: bool = False
    happened: bool = False


class Plan(_Model):
    source: str | None = None  # "magic 3800...", "scenario NAME", or "profile"
    moments: tuple[PlanMoment, ...] = ()


class MessageInfo(_Model):
    """A message as the inspection API shows it. `texts`, `advanced_report` and `plan` are
    None in listings made without `full=True`."""

    client_id: str
    message_id: str
    job_id: str
    job_kind: str
    phone_number: str
    extra_id: str | None = None
    tag: str | None = None
    channels: tuple[str, ...]
    state: str  # rejected, pending, active, delivered, failed
    accepted: bool
    callback_url: str | None = None
    sms_parts: int | None = None
    report: dict[str, Any]  # the simple delivery report, as the provider API answers it
    texts: dict[str, Any] | None = None
    advanced_report: dict[str, Any] | None = None
    plan: Plan | None = None

    @property
    def final(self) -> bool:
        return self.state in ("rejected", "delivered", "failed")

    @property
    def delivered_via(self) -> str | None:
        """The channel that delivered the message, None unless it is delivered."""
        if self.state != "delivered":
            return None
        partner = self.report.get("last_partner")
        return str(partner) if partner is not None else None


class JobInfo(_Model):
    """A job. `messages` is filled by `job(job_id)` only; listings give `message_count`."""

    job_id: str
    client_id: str
    kind: str  # single, batch, broadcast
    created: str
    begin: str
    channels: tuple[str, ...]
    channel_options: dict[str, Any] = Field(default_factory=dict)
    callback_url: str | None = None
    tag: str | None = None
    division_code: str | None = None
    message_count: int
    states: dict[str, int] = Field(default_factory=dict)
    messages: tuple[MessageInfo, ...] | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> JobInfo:
        fields = dict(data)
        listed = fields.pop("messages", 0)
        if isinstance(listed, list):
            fields["messages"] = listed
            fields["message_count"] = len(listed)
        else:
            fields["message_count"] = listed
        return cls.model_validate(fields)


class CallbackAttempt(_Model):
    attempt: int
    at: str
    at_ms: int
    response_code: int | None = None
    error: str | None = None
    latency_ms: float


class CallbackDelivery(_Model):
    """One callback (a report, a batch of reports, or an inbound reply) and its attempts."""

    id: int
    client_id: str
    kind: str  # report, batch, inbound
    url: str
    status: str  # pending, queued, delivered, failed, dropped
    message_ids: tuple[str, ...] = ()
    job_ids: tuple[str, ...] = ()
    created: str
    attempt_count: int
    response_code: int | None = None
    error: str | None = None
    next_attempt: str | None = None
    next_attempt_ms: int | None = None
    note: str | None = None
    attempts: tuple[CallbackAttempt, ...] = ()
    body: Any = None  # the JSON POSTed; None in listings made with body=False


class ApiFault(_Model):
    """An API fault: answer `status`, add `latency` real seconds, or `drop` the connection, on
    `endpoint` (single, batch, batch_sync, broadcast, broadcast_sync, status, dr, or *), with a
    `probability` (seeded), only `count` times when given."""

    endpoint: str = "*"
    status: int | None = None
    error_code: int | None = None
    error_text: str | None = None
    latency: float = 0.0
    drop: bool = False
    probability: float = 1.0
    count: int | None = None
    remaining: int | None = None  # shown by the server: matches left of `count`


class DelayFault(_Model):
    probability: float = 0.0
    seconds: float = 30.0


class ReorderFault(_Model):
    probability: float = 0.0
    window: float = 10.0


class CallbackFaults(_Model):
    drop: float = 0.0
    duplicate: float = 0.0
    delay: DelayFault = Field(default_factory=DelayFault)
    reorder: ReorderFault = Field(default_factory=ReorderFault)


class Faults(_Model):
    api: tuple[ApiFault, ...] = ()
    callbacks: CallbackFaults = Field(default_factory=CallbackFaults)


class AccountSettings(_Model):
    """One account's callback settings in force (`GET/PATCH /_mock/settings`)."""

    callback_mode: str  # single | batched
    callback_batch_size: int
    callback_batch_period: float
    callback_report_seen: bool
    callback_report_late: bool
    callback_number_type: str  # auto | int | string
    callback_hmac_secret: str | None = None
    inbound_url: str | None = None
    callback_max_attempts: int
    callback_backoff: float
    callback_backoff_factor: float
    callback_backoff_max: float
    callback_jitter: float


class Acceptance(_Model):
    """One recipient of a sync batch/broadcast answer."""

    processed: bool
    phone_number: str
    message_id: str | None = None
    extra_id: str | None = None
    accepted: bool
    error_code: int | None = None
    error_text: str | None = None
