"""Report shapes built from stored messages: the sync acceptance item, the campaign status item,
and the simple and advanced delivery reports. Field order follows the Hyber docs' examples."""

from __future__ import annotations

from typing import Any

from mock_hyber.engine.codes import Catalogue, default_catalogue
from mock_hyber.store.models import Leg, Message, State

NO_FINAL_STATUS = -1
PLATFORM = "hyber"


class ReportBuilder:
    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self.catalogue = catalogue or default_catalogue()

    # -- helpers --------------------------------------------------------------------------

    def error_text(self, message: Message) -> str:
        if message.error_text is not None:
            return message.error_text
        entry = self.catalogue.by_code(message.error_code or 0)
        return entry.text if entry else "Error"

    @staticmethod
    def ctr(message: Message) -> bool:
        options = message.job.channel_options
        return any(options[channel].get("ctr") for channel in message.job.channels)

    @staticmethod
    def sms_leg(message: Message) -> Leg | None:
        for leg in message.legs or ():
            if leg.channel == "sms":
                return leg
        return None

    @staticmethod
    def last_leg(message: Message) -> Leg | None:
        return message.legs[-1] if message.legs else None

    def last_partner(self, message: Message) -> str:
        if message.state is State.DELIVERED or message.state is State.FAILED:
            leg = self.delivering_leg(message) or self.last_leg(message)
            return leg.channel if leg else PLATFORM
        return PLATFORM

    def delivering_leg(self, message: Message) -> Leg | None:
        if message.state is not State.DELIVERED or message.final_code is None:
            return None
        for leg in message.legs or ():
            entry = self.catalogue.by_code(leg.code)
            if entry and entry.status == 2:
                return leg
        return None

    def _parts(self, item: dict[str, Any], message: Message) -> None:
        leg = self.sms_leg(message)
        if leg is not None:
            item["total_sms_parts"] = message.sms_parts
            if leg.delivered_parts:
                item["delivered_sms_parts"] = leg.delivered_parts

    def _final_status(self, item: dict[str, Any], message: Message) -> None:
        entry = self.catalogue.by_code(message.final_code) if message.final_code else None
        if entry is None or not message.state.final or message.state is State.REJECTED:
            item["status"] = NO_FINAL_STATUS
            return
        item["status"] = entry.status
        item["substatus"] = entry.substatus
        item["hyber_status"] = entry.code

    # -- shapes ---------------------------------------------------------------------------

    def acceptance_item(self, message: Message) -> dict[str, Any]:
        """One entry of a /batch/sync or /broadcast/sync answer."""
        item: dict[str, Any] = {
            "processed": message.accepted,
            "phone_number": message.phone,
            "message_id": message.message_id,
        }
        if message.extra_id is not None:
            item["extra_id"] = message.extra_id
        item["accepted"] = message.accepted
        if not message.accepted:
            item["error_code"] = message.error_code
            item["error_text"] = self.error_text(message)
        return item

    def status_item(self, message: Message) -> dict[str, Any]:
        """One entry of the campaign status report (GET /{client_id}/status/{job_id})."""
        item: dict[str, Any] = {
            "time": message.updated_ms,
            "phone_number": message.phone,
            "message_id": message.message_id,
        }
        if message.extra_id is not None:
            item["extra_id"] = message.extra_id
        item["processed"] = message.state is State.ACTIVE
        item["accepted"] = message.accepted
        self._parts(item, message)
        if message.state is State.DELIVERED:
            entry = self.catalogue.by_code(message.final_code or 0)
            if entry is not None:
                item["status_text"] = entry.text
                item["status"] = entry.status
                item["substatus"] = entry.substatus
                item["hyber_status"] = entry.code
        elif message.state is State.FAILED or message.state is State.REJECTED:
            item["error_text"] = self.error_text(message)
            item["error_code"] = message.error_code
        else:
            item["status"] = NO_FINAL_STATUS
        if self.ctr(message):
            item["clicks"] = message.clicks
        return item

    def simple_dr(self, message: Message) -> dict[str, Any]:
        item: dict[str, Any] = {
            "phone_number": message.phone,
            "last_partner": self.last_partner(message),
            "message_id": message.message_id,
        }
        if message.extra_id is not None:
            item["extra_id"] = message.extra_id
        item["time"] = message.updated_ms
        self._final_status(item, message)
        if message.state is State.REJECTED:
            item["error_code"] = message.error_code
            item["error_text"] = self.error_text(message)
        self._parts(item, message)
        if self.ctr(message):
            item["clicks"] = message.clicks
        return item

    def leg_report(self, message: Message, leg: Leg) -> dict[str, Any]:
        entry = self.catalogue.by_code(leg.code)
        item: dict[str, Any] = {
            "phone_number": message.phone,
            "message_id": message.message_id,
        }
        if message.extra_id is not None:
            item["extra_id"] = message.extra_id
        item["time"] = leg.ended_ms if leg.ended_ms is not None else leg.started_ms
        item["last_partner"] = leg.channel
        if entry is not None:
            item["status"] = entry.status
            item["substatus"] = entry.substatus
            item["hyber_status"] = entry.code
        if leg.channel == "sms":
            item["total_sms_parts"] = message.sms_parts
            if leg.delivered_parts:
                item["delivered_sms_parts"] = leg.delivered_parts
        return item

    def advanced_dr(self, message: Message) -> dict[str, Any]:
        delivering = self.delivering_leg(message)
        report: dict[str, Any] = {
            "reports": [self.leg_report(message, leg) for leg in message.legs or ()],
            "started": bool(message.legs),
            "processing": message.state is State.ACTIVE,
            "delivered_via": delivering.channel if delivering else PLATFORM,
        }
        if message.state is State.REJECTED:
            report["error_code"] = message.error_code
            report["error_text"] = self.error_text(message)
        if self.ctr(message):
            report["clicks"] = message.clicks
        report["channels"] = [
            {"channel": channel, "ttl": message.job.channel_options[channel]["ttl"]}
            for channel in message.job.channels
        ]
        return report
