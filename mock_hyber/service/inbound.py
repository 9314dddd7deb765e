"""2-way user replies: `POST /_mock/inbound` makes a simulated user answer a message, and the
reply is POSTed to the account's inbound URL (as Hyber does, with no auth), with retries."""

from __future__ import annotations

from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mock_hyber.callbacks.payloads import user_reply
from mock_hyber.engine.evaluate import message_at
from mock_hyber.errors import HyberError
from mock_hyber.ids import umid_of
from mock_hyber.model import Delivery
from mock_hyber.service.phones import normalize_phone
from mock_hyber.state import AccountState

VIBER_MEDIA = ("media", "file_name")
WHATSAPP_MEDIA = ("image_url", "video_url", "audio_url", "doc_url", "location")


class InboundRequest(BaseModel):
    # The description says what `_who` checks: message_id or phone must be given.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"anyOf": [{"required": ["message_id"]}, {"required": ["phone"]}]},
    )

    client_id: str | None = None
    message_id: str | None = Field(None, description="the message replied to")
    phone: str | None = Field(None, description="needed when no message_id is given")
    channel: Literal["viber", "whatsapp"] | None = None
    text: str | None = None
    media: str | None = None
    file_name: str | None = None
    image_url: str | None = None
    video_url: str | None = None
    audio_url: str | None = None
    doc_url: str | None = None
    location: str | None = Field(None, description='"lat,lon"')

    @model_validator(mode="after")
    def _who(self) -> InboundRequest:
        if self.message_id is None and self.phone is None:
            raise ValueError("give message_id (a reply to it) or phone (a user-initiated message)")
        return self


def simulate_reply(account: AccountState, request: InboundRequest) -> Delivery:
    url = account.outbox.policy.inbound_url
    if not url:
        raise HyberError.named(
            "invalid_parameter",
            f"no inbound_url is configured for account {account.client_id}",
        )
    refusal = account.backend.destinations.refusal(url)
    if refusal is not None:
        raise HyberError.named("invalid_parameter", f"inbound_url {url}: {refusal}")
    original = None
    if request.message_id is not None:
        found = account.store.locate(request.message_id)
        if found is None:
            raise HyberError.named("message_not_found", request.message_id)
        original = message_at(*found, account.clock.now_ms())
    if request.phone is not None:
        phone = normalize_phone(request.phone.removeprefix("+"), account.phone_pattern)
        if phone is None:
            raise HyberError.named("invalid_parameter", "phone: not a correct phone number")
    else:
        phone = original.phone if original else ""
    channel = request.channel or _reply_channel(original)
    allowed = VIBER_MEDIA if channel == "viber" else WHATSAPP_MEDIA
    media = {name: getattr(request, name) for name in allowed if getattr(request, name)}
    other = VIBER_MEDIA if channel == "whatsapp" else WHATSAPP_MEDIA
    wrong = [name for name in other if getattr(request, name)]
    if wrong:
        raise HyberError.named("invalid_parameter", f"{wrong[0]}: not a {channel} reply field")
    text = request.text
    if text is None and not media:
        text = made_up_reply(account.outbox.rng.getrandbits(32))
    now = account.clock.now_ms()
    umid = None
    if channel == "whatsapp":
        # The transport id of the replied message: the same for every reply to it.
        source = original.message_id if original else f"{phone}/{now}"
        umid = umid_of(source)
    keys = account.settings.inbound_reply_keys
    if channel == "whatsapp":
        account.open_whatsapp_session(phone, now)  # the user wrote: a 24 h session opens
    body = user_reply(channel, phone, text, now, original, media, umid, keys)
    message_ids = (original.message_id,) if original else ()
    job_ids = (original.job.job_id,) if original else ()
    return account.outbox.add(
        "inbound", url, orjson.dumps(body), message_ids, job_ids, now, apply_faults=False
    )


def made_up_reply(seed: int) -> str:
    """A short, plausible user reply (Ukrainian locale), the same for the same seed."""
    from faker import Faker  # imported here: it is slow to load and only needed here

    fake = Faker("uk_UA")
    fake.seed_instance(seed)
    return str(fake.sentence(nb_words=5))


def _reply_channel(original: object | None) -> str:
    channels = getattr(getattr(original, "job", None), "channels", ())
    for channel in channels:
        if channel in ("viber", "whatsapp"):
            return str(channel)
    raise HyberError.named("missing_parameter", "channel (viber or whatsapp)")
