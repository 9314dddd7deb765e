"""Wire models of the sending requests (single, batch, broadcast).

Models are lenient where real clients are (numbers as strings, legacy and unknown fields), and
strict on the documented limits. Per-recipient checks (phone numbers, values after `%key%`
substitution) belong to the service, which can reject one recipient and keep the rest.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mock_hyber.schemas.limits import checked, top_checked

PhoneNumber = Annotated[
    Any,
    Field(
        description="International format without '+', as a number or a digit string",
        json_schema_extra={"anyOf": [{"type": "integer"}, {"type": "string"}]},
    ),
]


class _Lenient(BaseModel):
    # Unknown and legacy fields (is_promotional, ios_expirity_text, ...) are accepted and ignored.
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)


class ChannelBase(_Lenient):
    ctr: bool = Field(False, description="Rewrite links into tracked short links; count clicks")


class ViberOptions(ChannelBase):
    ttl: int = Field(ge=40, le=86400, description="Seconds; below 60 the user may get SMS too")
    text: checked("viber", "text") | None = None
    device: Literal["all", "phone"] | None = None
    alpha_name: checked("viber", "alpha_name") | None = None
    img: checked("viber", "img") | None = None
    caption: checked("viber", "caption") | None = None
    action: checked("viber", "action") | None = None
    file_name: checked("viber", "file_name") | None = None
    thumbnail: checked("viber", "thumbnail") | None = None
    file_size: float | None = Field(None, ge=0, description="Video size (MB)")
    duration: int | None = Field(None, ge=0, description="Video duration (s)")


class SmsOptions(ChannelBase):
    ttl: int = Field(ge=300, le=259200)
    alpha_name: checked("sms", "alpha_name")
    text: checked("sms", "text") | None = Field(
        None, description="Mandatory, except in a batch where each item's text is used"
    )


class WhatsAppOptions(ChannelBase):
    # The docs give only the maximum (7 days); the minimum is the `whatsapp_min_ttl` setting.
    ttl: int = Field(ge=1, le=604800)
    text: checked("whatsapp", "text") | None = None
    img: checked("whatsapp", "img") | None = None
    img_name: checked("whatsapp", "img_name") | None = None
    doc: checked("whatsapp", "doc") | None = None
    doc_name: checked("whatsapp", "doc_name") | None = None
    audio: checked("whatsapp", "audio") | None = None
    video: checked("whatsapp", "video") | None = None
    video_name: checked("whatsapp", "video_name") | None = None
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)


class PushOptions(ChannelBase):
    ttl: int = Field(ge=30, le=86400)
    title: checked("push", "title")
    text: checked("push", "text") | None = Field(
        None, description="Mandatory, except in a batch where each item's text is used"
    )
    img: checked("push", "img") | None = None
    caption: checked("push", "caption") | None = None
    action: checked("push", "action") | None = None


class ChannelOptions(_Lenient):
    push: PushOptions | None = None
    viber: ViberOptions | None = None
    sms: SmsOptions | None = None
    whatsapp: WhatsAppOptions | None = None


class RequestBase(_Lenient):
    channels: list[str] = Field(
        description="Channels in order of priority: push, viber, sms, whatsapp; no duplicates"
    )
    channel_options: ChannelOptions
    callback_url: top_checked("callback_url") | None = None
    start_time: str | None = Field(
        None, description="'YYYY-MM-DD hh:mm:ss+hh:mm'; Kyiv time when no offset is given"
    )
    tag: top_checked("tag") | None = None
    division_code: top_checked("division_code") | None = None


class SingleRequest(RequestBase):
    phone_number: PhoneNumber
    extra_id: top_checked("extra_id") | None = None


class BatchItem(_Lenient):
    phone_number: PhoneNumber = None
    extra_id: top_checked("extra_id") | None = None
    text: str | None = Field(None, description="Text sent on every channel")


class BatchRequest(RequestBase):
    messages: list[BatchItem] = Field(description="At most 50,000 items")


class BroadcastRecipient(_Lenient):
    """`phone_number`, `extra_id`, and any personalisation keys used as `%key%`."""

    phone_number: PhoneNumber = None
    extra_id: top_checked("extra_id") | None = None


class BroadcastRequest(RequestBase):
    recipients: list[BroadcastRecipient] = Field(description="At most 50,000 items")
