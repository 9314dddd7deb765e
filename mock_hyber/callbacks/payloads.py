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
) -> dict[str, Any]:
    """A 2-way reply as Hyber posts it: Viber with a '+' phone and Kyiv local time, WhatsApp
    with a bare phone and UTC ISO time (both as in the docs' examples)."""
    moment = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    reply: dict[str, Any]
    if channel == "viber":
        reply = {
            "phone": f"+{phone}",
            "time": moment.astimezone(KYIV).strftime("%Y-%m-%d %H:%M:%S"),
            "channel": "viber",
        }
    else:
        reply = {
            "phone": phone,
            "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "channel": "whatsapp",
        }
    if original is not None:
        reply["message_id"] = original.message_id
        reply["extra_id"] = original.extra_id
        channels = original.job.channels
        source = channel if channel in channels else channels[0]
        reply["text_to_subscriber"] = original.option(source, "text")
    if channel == "whatsapp" and umid is not None:
        reply["umid"] = umid
    reply["text_from_subscriber"] = text
    reply.update(media)
    return reply
