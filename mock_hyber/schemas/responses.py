"""Wire models of the answers, for the OpenAPI description (handlers build dicts directly)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    error_code: int
    error_text: str


class MessageIdResponse(BaseModel):
    message_id: str = Field(description="UUID of the accepted message")


class JobIdResponse(BaseModel):
    job_id: str = Field(description="UUID of the campaign")


class AcceptanceItem(BaseModel):
    processed: bool
    phone_number: str
    message_id: str
    extra_id: str | None = None
    accepted: bool
    error_code: int | None = None
    error_text: str | None = None


class SyncResponse(BaseModel):
    messages: list[AcceptanceItem]


class StatusItem(BaseModel):
    time: int = Field(description="Milliseconds since the epoch of the last change")
    phone_number: str
    message_id: str
    extra_id: str | None = None
    processed: bool
    accepted: bool
    total_sms_parts: int | None = None
    delivered_sms_parts: int | None = None
    status_text: str | None = None
    status: int | None = Field(None, description="-1 until the message has a final status")
    substatus: int | None = None
    hyber_status: int | None = None
    error_text: str | None = None
    error_code: int | None = None
    clicks: int | None = Field(None, description="Only when ctr is on")


class StatusReport(BaseModel):
    messages: list[StatusItem]


class SimpleReport(BaseModel):
    phone_number: str
    last_partner: str = Field(description="Channel of the last action; 'hyber' when none")
    message_id: str
    extra_id: str | None = None
    time: int
    status: int
    substatus: int | None = None
    hyber_status: int | None = None
    error_code: int | None = None
    error_text: str | None = None
    total_sms_parts: int | None = None
    delivered_sms_parts: int | None = None
    clicks: int | None = None


class LegReport(BaseModel):
    phone_number: str
    message_id: str
    extra_id: str | None = None
    time: int
    last_partner: str
    status: int
    substatus: int
    hyber_status: int
    total_sms_parts: int | None = None
    delivered_sms_parts: int | None = None


class ChannelTtl(BaseModel):
    channel: str
    ttl: int


class AdvancedReport(BaseModel):
    reports: list[LegReport] = Field(description="One entry per channel attempted")
    started: bool
    processing: bool
    delivered_via: str
    error_code: int | None = None
    error_text: str | None = None
    clicks: int | None = None
    channels: list[ChannelTtl]
