"""JSON bodies POSTed to clients: delivery reports (RTD chapter 4) and user replies (chapter 6)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mock_hyber.model import KYIV, PLATFORM, Happening, Kind, Message
from mock_hyber.reports import ReportBuilder, matching_template_id, view_of


def delivery_report(
    happening: Happening, builder: ReportBuilder, number_as_string: bool
) -> dict[str, Any]:
    """One DR object: {number, time, status, substatus, hyber_status, message_id, extra_id,
    sent_via, total_sms_parts?, delivered_sms_parts?, matching_template_id?}."""
    message = happening.message
    state = view_of(message)
    entry = builder.catalogue.by_code(happening.code)
    channel = PLATFORM if happening.kind is Kind.BLOCKED else message.job.channels[happening.leg]
    report: dict[str, Any] = {
        "number": message.phone if number_as_string else int(message.phone),
        "time": happening.at_ms,
        "status": entry.status if entry else -1,
        "substatus": entry.substatus if entry else 0,
        "hyber_status": happening.code,
        "message_id": message.message_id,
    }
    if message.extra_id is not None:
        report["extra_id"] = message.extra_id
    report["sent_via"] = channel
    sms_legs = [leg for leg in state.legs if leg.channel == "sms"]
    if sms_legs:
        report["total_sms_parts"] = message.sms_parts
        if sms_legs[0].delivered:
            report["delivered_sms_parts"] = message.sms_parts
    route = message.job.route
    delivered = happening.kind in (Kind.DELIVERED, Kind.LATE, Kind.SEEN)
    if channel == "viber" and delivered and route is not None and route.viber_template:
        report["matching_template_id"] = matching_template_id(message)
    return report


def user_reply(
    channel: str,
    phone: str,
    text: str | None,
    at_ms: int,
    original: Message | None,
    media: dict[str, str],
    umid: str | None,
    keys: str = "docs",
) -> dict[str, Any]:
    """A 2-way reply in the shape of the docs' examples (RTD chapter 6). Viber: Kyiv local
    time; the phone has a '+' only in a text reply to a message (the one example that shows
    it; the deep-link and media examples, and Table 8.4, have none). WhatsApp: channel first,
    a bare phone, UTC ISO time and the umid; with `keys` "docs" none of the message keys its
    example does not show (message_id, extra_id, text_to_subscriber), with "extended" those
    too. A key without a value is left out, but `text_to_subscriber` is null for an original
    without text (Table 8.4: an Image Only or File Only message)."""
    moment = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    reply: dict[str, Any]
    if channel == "viber":
        plus = "+" if original is not None and not media else ""
        reply = {
            "phone": plus + phone,
            "time": moment.astimezone(KYIV).strftime("%Y-%m-%d %H:%M:%S"),
            "channel": "viber",
        }
    else:
        reply = {
            "channel": "whatsapp",
            "phone": phone,
            "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if umid is not None:
            reply["umid"] = umid
    if original is not None and (channel == "viber" or keys == "extended"):
        reply["message_id"] = original.message_id
        if original.extra_id is not None:
            reply["extra_id"] = original.extra_id
        channels = original.job.channels
        source = channel if channel in channels else channels[0]
        reply["text_to_subscriber"] = original.option(source, "text")
    if text is not None:
        reply["text_from_subscriber"] = text
    reply.update(media)
    return reply
