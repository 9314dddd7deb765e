"""Report shapes built from stored messages: the sync acceptance item, the campaign status item,
and the simple and advanced delivery reports. Field order follows the Hyber docs' examples.

Every shape is derived from the moments of the message's script that have happened (its view),
so reports always show the live state of the simulation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mock_hyber.codes import Catalogue, builtin_catalogue
from mock_hyber.engine.lives import NEVER
from mock_hyber.engine.timeline import LegView, MessageView, view
from mock_hyber.model import PLATFORM, Job, Kind, Message, State

NO_FINAL_STATUS = -1
_PLAIN = 0x7F  # a moment's kind without its FINAL bit
VIBER_TEMPLATE_DELIVERED = 23043


def view_of(message: Message) -> MessageView:
    job = message.job
    ttls = job.route.ttls if job.route is not None else ()
    return view(message.script, message.step, job.begin_ms, job.created_ms, job.channels, ttls)


def delayed(job: Job) -> bool:
    """Whether the job's start_time put its start after its acceptance."""
    return job.start_ms is not None and job.start_ms > job.created_ms


def matching_template_id(message: Message) -> int:
    """The id of the registered Viber template the message's text matched (0: none)."""
    return message.job.viber_template_id(message.index)


class ReportBuilder:
    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self.catalogue = catalogue or builtin_catalogue()
        self._ctr_job: object = None
        self._ctr = False

    # -- pieces ---------------------------------------------------------------------------

    def code_text(self, code: int | None) -> str:
        entry = self.catalogue.by_code(code or 0)
        return entry.text if entry else "Unknown status"

    def error_text(self, message: Message) -> str:
        if message.error_text is not None:
            return message.error_text
        return self.code_text(message.error_code)

    def ctr(self, message: Message) -> bool:
        """Whether any channel of the message's job counts clicks (cached per job)."""
        job = message.job
        if job is not self._ctr_job:
            self._ctr_job = job
            self._ctr = any(job.channel_options[ch].get("ctr") for ch in job.channels)
        return self._ctr

    @staticmethod
    def final_leg(message: Message, state: MessageView) -> LegView | None:
        if not message.state.final or state.final_leg is None:
            return None
        return state.legs[state.final_leg]

    def last_partner(self, message: Message, state: MessageView) -> str:
        """The channel that settled the message; 'hyber' while not final, or when blocked."""
        leg = self.final_leg(message, state)
        return leg.channel if leg is not None else PLATFORM

    def _parts(self, item: dict[str, Any], message: Message, legs: list[LegView]) -> None:
        sms = [leg for leg in legs if leg.channel == "sms"]
        if sms:
            item["total_sms_parts"] = message.sms_parts
            if sms[0].delivered:
                item["delivered_sms_parts"] = message.sms_parts

    def _status_codes(self, item: dict[str, Any], code: int | None) -> None:
        entry = self.catalogue.by_code(code or 0)
        if entry is None:
            item["status"] = NO_FINAL_STATUS
            return
        item["status"] = entry.status
        item["substatus"] = entry.substatus
        item["hyber_status"] = entry.code

    def _template(self, item: dict[str, Any], message: Message, leg: LegView | None) -> None:
        if leg is not None and leg.channel == "viber" and leg.delivered:
            route = message.job.route
            if route is not None and route.viber_template:
                item["matching_template_id"] = matching_template_id(message)

    # -- shapes ---------------------------------------------------------------------------

    def status_item(self, message: Message) -> dict[str, Any]:
        """One entry of the campaign status report (GET /{client_id}/status/{job_id})."""
        state = view_of(message)
        item: dict[str, Any] = {
            "time": state.updated_ms,
            "phone_number": message.phone,
            "message_id": message.message_id,
        }
        if message.extra_id is not None:
            item["extra_id"] = message.extra_id
        item["processed"] = message.state is State.ACTIVE
        item["accepted"] = message.accepted
        self._parts(item, message, state.legs)
        if message.state is State.DELIVERED:
            item["status_text"] = self.code_text(state.final_code)
            self._status_codes(item, state.final_code)
        elif message.state is State.FAILED or message.state is State.REJECTED:
            item["error_text"] = self.error_text(message)
            item["error_code"] = message.error_code
        else:
            item["status"] = NO_FINAL_STATUS
        if self.ctr(message):
            item["clicks"] = state.clicks
        return item

    def acceptance_items(self, job: Job) -> list[dict[str, Any]]:
        """The answer of a /batch/sync or /broadcast/sync request, one item per recipient."""
        ids = job.ids.ids_of(job.number, job.size)
        phones = job.phone_texts()
        extra_ids = None if job.extra_ids is None else job.extra_ids.to_list()
        rejected = job.rejected
        starts_now = not delayed(job)  # a future start_time: processing has not started
        items = []
        for index, message_id in enumerate(ids):
            rejection = rejected.get(index)
            item: dict[str, Any] = {
                "processed": rejection is None and starts_now,
                "phone_number": phones[index],
                "message_id": message_id,
            }
            if extra_ids is not None and extra_ids[index] is not None:
                item["extra_id"] = extra_ids[index]
            item["accepted"] = rejection is None
            if rejection is not None:
                item["error_code"] = rejection.code
                item["error_text"] = rejection.text or self.code_text(rejection.code)
            items.append(item)
        return items

    def status_report(self, job: Job, now_ms: int) -> list[dict[str, Any]]:
        """The campaign status report of a job at `now_ms`: status_item for every recipient,
        evaluated for all of them at once from the job's lives."""
        lives = job.lives
        elapsed = now_ms - job.begin_ms
        table = lives.table
        happened = table["offset"] <= max(min(elapsed, NEVER - 1), -1)
        kinds = table["kind"] & _PLAIN
        legs = table["leg"]
        states = lives.states_at(elapsed).tolist()
        updated = lives.updated_at(elapsed)
        times = np.where(updated >= 0, updated + job.begin_ms, job.created_ms).tolist()
        final_codes = lives.final_code.astype(np.int64)
        seen = happened & (kinds == Kind.SEEN) & (legs == lives.final_leg[None, :])
        if seen.any():
            seen_codes = np.where(seen, table["code"], 0).max(axis=0)
            final_codes = np.where(seen.any(axis=0), seen_codes, final_codes)
        final_codes_list = final_codes.tolist()
        sms_started = sms_delivered = None
        if "sms" in job.channels:
            on_sms = happened & (legs == job.channels.index("sms"))
            sms_started = (on_sms & (kinds == Kind.START)).any(axis=0).tolist()
            delivered = (kinds == Kind.DELIVERED) | (kinds == Kind.LATE)
            sms_delivered = (on_sms & delivered).any(axis=0).tolist()
        clicks = None
        if any(job.channel_options[ch].get("ctr") for ch in job.channels):
            clicked = happened & (kinds == Kind.CLICK)
            clicks = np.where(clicked, table["code"], 0).sum(axis=0).tolist()
        ids = job.ids.ids_of(job.number, job.size)
        phones = job.phone_texts()
        parts = job.sms_parts.tolist()
        extra_ids = None if job.extra_ids is None else job.extra_ids.to_list()
        rejected = job.rejected
        by_code = self.catalogue.by_code
        items = []
        for index, message_id in enumerate(ids):
            rejection = rejected.get(index)
            item: dict[str, Any] = {
                "time": times[index] if rejection is None else job.created_ms,
                "phone_number": phones[index],
                "message_id": message_id,
            }
            if extra_ids is not None and extra_ids[index] is not None:
                item["extra_id"] = extra_ids[index]
            if rejection is not None:
                item["processed"] = False
                item["accepted"] = False
                item["error_text"] = rejection.text or self.code_text(rejection.code)
                item["error_code"] = rejection.code
                if clicks is not None:
                    item["clicks"] = 0
                items.append(item)
                continue
            state = states[index]
            item["processed"] = state == State.ACTIVE
            item["accepted"] = True
            if sms_started is not None and sms_started[index]:
                item["total_sms_parts"] = parts[index]
                if sms_delivered[index]:  # type: ignore[index]
                    item["delivered_sms_parts"] = parts[index]
            if state == State.DELIVERED:
                code = final_codes_list[index]
                entry = by_code(code)
                item["status_text"] = entry.text if entry else "Unknown status"
                if entry is None:
                    item["status"] = NO_FINAL_STATUS
                else:
                    item["status"] = entry.status
                    item["substatus"] = entry.substatus
                    item["hyber_status"] = entry.code
            elif state == State.FAILED:
                code = int(lives.final_code[index])
                item["error_text"] = self.code_text(code)
                item["error_code"] = code
            else:
                item["status"] = NO_FINAL_STATUS
            if clicks is not None:
                item["clicks"] = clicks[index]
            items.append(item)
        return items

    def simple_dr(self, message: Message) -> dict[str, Any]:
        state = view_of(message)
        item: dict[str, Any] = {
            "phone_number": message.phone,
            "last_partner": self.last_partner(message, state),
            "message_id": message.message_id,
        }
        if message.extra_id is not None:
            item["extra_id"] = message.extra_id
        item["time"] = state.updated_ms
        if message.state is State.DELIVERED or message.state is State.FAILED:
            self._status_codes(item, state.final_code)
        else:
            item["status"] = NO_FINAL_STATUS
        if message.state is State.REJECTED:
            item["error_code"] = message.error_code
            item["error_text"] = self.error_text(message)
        self._parts(item, message, state.legs)
        self._template(item, message, self.final_leg(message, state))
        if self.ctr(message):
            item["clicks"] = state.clicks
        return item

    def leg_report(self, message: Message, leg: LegView) -> dict[str, Any]:
        item: dict[str, Any] = {"phone_number": message.phone, "message_id": message.message_id}
        if message.extra_id is not None:
            item["extra_id"] = message.extra_id
        item["time"] = leg.ended_ms if leg.ended_ms is not None else leg.started_ms
        item["last_partner"] = leg.channel
        self._status_codes(item, leg.code)
        if leg.channel == "sms":
            item["total_sms_parts"] = message.sms_parts
            if leg.delivered:
                item["delivered_sms_parts"] = message.sms_parts
        self._template(item, message, leg)
        return item

    def blocked_report(self, message: Message, state: MessageView) -> dict[str, Any]:
        item: dict[str, Any] = {"phone_number": message.phone, "message_id": message.message_id}
        if message.extra_id is not None:
            item["extra_id"] = message.extra_id
        item["time"] = state.final_ms
        item["last_partner"] = PLATFORM
        self._status_codes(item, state.final_code)
        return item

    def advanced_dr(self, message: Message) -> dict[str, Any]:
        state = view_of(message)
        delivered = state.delivered_leg if message.state is State.DELIVERED else None
        legs = [self.leg_report(message, leg) for leg in state.legs]
        if state.final_kind is Kind.BLOCKED:
            legs.append(self.blocked_report(message, state))
        report: dict[str, Any] = {
            "reports": legs,
            # The docs: false when processing has not started, or started with delay.
            "started": bool(state.legs) and not delayed(message.job),
            "processing": message.state is State.ACTIVE,
            "delivered_via": delivered.channel if delivered else PLATFORM,
        }
        if message.state is State.REJECTED:
            report["error_code"] = message.error_code
            report["error_text"] = self.error_text(message)
        if self.ctr(message):
            report["clicks"] = state.clicks
        report["channels"] = [
            {"channel": channel, "ttl": message.job.channel_options[channel]["ttl"]}
            for channel in message.job.channels
        ]
        return report
