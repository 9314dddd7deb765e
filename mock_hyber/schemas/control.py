"""Wire models of the control plane's answers (/_mock/...), for the OpenAPI description.

Handlers build dicts directly; these models say what those dicts hold. Nested views whose
shape follows other data (a report, a plan, a callback body) stay open objects.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, RootModel

Channel = Literal["push", "viber", "sms", "whatsapp"]


class HealthResponse(BaseModel):
    status: Literal["ok", "unhealthy"]
    version: str
    seed: int
    accounts: list[str]
    messages: int = Field(description="messages held, across accounts")
    dead_loops: dict[str, Any] | None = Field(
        None, description="only when unhealthy: the background loops that stopped"
    )


class MagicResponse(BaseModel):
    magic_numbers: list[dict[str, Any]]


class CodesResponse(RootModel[dict[str, Any]]):
    """The code catalogue in use (engine/data/codes.yaml, or MOCK_HYBER_CODES_FILE)."""


class ResetResponse(BaseModel):
    reset: list[str] = Field(description="client_ids wiped")


class ClockView(BaseModel):
    now: str = Field(description="virtual time, ISO 8601")
    now_ms: int
    speed: float
    frozen: bool
    pending_events: int
    next_event_ms: int | None
    scheduled_callbacks: int


class ClocksResponse(BaseModel):
    clocks: dict[str, ClockView] = Field(description="by client_id")
    settled: bool | None = Field(
        None, description="only with wait_callbacks: false when the timeout came first"
    )


class ScenarioView(BaseModel):
    rules: list[dict[str, Any]]
    profile: dict[str, Any]


class ScenariosResponse(BaseModel):
    scenarios: dict[str, ScenarioView] = Field(description="by client_id")


class JobView(BaseModel):
    job_id: str
    client_id: str
    kind: Literal["single", "batch", "broadcast"]
    created: str
    begin: str
    channels: list[Channel]
    channel_options: dict[str, Any]
    callback_url: str | None
    tag: str | None
    division_code: str | None
    states: dict[str, int] = Field(description="message counts by state (only states held)")


class JobSummary(JobView):
    messages: int = Field(description="how many messages the job holds")


class MessageView(BaseModel):
    client_id: str
    message_id: str
    job_id: str
    job_kind: Literal["single", "batch", "broadcast"]
    phone_number: str
    extra_id: str | None
    tag: str | None
    channels: list[Channel]
    state: str
    accepted: bool
    callback_url: str | None
    sms_parts: int
    report: dict[str, Any] = Field(description="the simple delivery report, as the API gives it")
    texts: dict[str, str | None] | None = Field(None, description="only in the full view")
    advanced_report: dict[str, Any] | None = Field(None, description="only in the full view")
    plan: dict[str, Any] | None = Field(None, description="only in the full view")


class JobDetail(JobView):
    messages: list[MessageView]


class JobsResponse(BaseModel):
    total: int
    jobs: list[JobSummary]


class MessagesResponse(BaseModel):
    total: int
    matched: bool = Field(description="total >= min_count")
    messages: list[MessageView]


class Attempt(BaseModel):
    attempt: int
    at: str
    at_ms: int
    response_code: int | None
    error: str | None
    latency_ms: float


class DeliveryView(BaseModel):
    id: int
    client_id: str
    kind: Literal["report", "batch", "inbound"]
    url: str
    status: Literal["pending", "queued", "delivered", "failed", "dropped"]
    message_ids: list[str]
    job_ids: list[str]
    created: str
    attempt_count: int
    response_code: int | None
    error: str | None
    next_attempt: str | None
    next_attempt_ms: int | None
    note: str | None
    attempts: list[Attempt]
    body: Any = Field(None, description="the JSON sent (left out with body=false)")


class CallbacksResponse(BaseModel):
    total: int
    callbacks: list[DeliveryView]


class AccountFaults(BaseModel):
    api: list[dict[str, Any]]
    callbacks: dict[str, Any]


class FaultsResponse(BaseModel):
    faults: dict[str, AccountFaults] = Field(description="by client_id")


class BreakerView(BaseModel):
    state: Literal["closed", "open", "half_open"]
    failures_in_a_row: int | None = None
    open_until: str | None = Field(None, description="while open: when the probe may go")
    times_opened: int | None = None
    attempts: int | None = Field(None, description="requests made")
    failed_attempts: int | None = None
    held_attempts: int | None = Field(None, description="recorded without a request, open")
    last_error: str | None = None
    last_error_at: str | None = None


class DestinationView(BaseModel):
    client_id: str
    destination: str = Field(description="scheme://host:port")
    pending: int = Field(description="deliveries pending or queued")
    delivered: int
    failed: int
    dropped: int
    last_error: str | None
    last_error_at: str | None
    breaker: BreakerView


class DestinationsResponse(BaseModel):
    destinations: list[DestinationView]


class AccountSettingsResponse(BaseModel):
    settings: dict[str, dict[str, Any]] = Field(
        description="by client_id: each callback option in force (see AccountOptions)"
    )


class ViberTemplateView(BaseModel):
    id: int
    text: str


class ViberTemplatesResponse(BaseModel):
    viber_templates: dict[str, list[ViberTemplateView]] = Field(description="by client_id")


class ViberTemplatesUpdate(BaseModel):
    templates: list[ViberTemplateView] = Field(
        description="the new registry; `{{name}}` marks a variable part of a text"
    )


class WhatsAppSessionView(BaseModel):
    phone: str
    last_message: str
    open_until: str
    open: bool


class AccountSessions(BaseModel):
    mode: str
    sessions: list[WhatsAppSessionView]


class WhatsAppSessionsResponse(BaseModel):
    whatsapp_sessions: dict[str, AccountSessions] = Field(description="by client_id")
