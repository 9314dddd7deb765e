"""Inspection views for the control API: a message with its plan, clocks, and the like."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mock_hyber.engine.clock import iso_ms as iso
from mock_hyber.engine.timeline import moments
from mock_hyber.model import Job, Message, State
from mock_hyber.reports import ReportBuilder, view_of
from mock_hyber.state import AccountState


def clock_view(account: AccountState) -> dict[str, Any]:
    clock = account.clock
    now_ms = clock.now_ms()
    return {
        "now": iso(now_ms),
        "now_ms": now_ms,
        "speed": clock.speed,
        "frozen": clock.frozen,
        "pending_events": len(account.engine),
        "next_event_ms": account.engine.next_due_ms(),
    }


def plan_view(message: Message) -> dict[str, Any]:
    """The message's planned life: where it came from, and each moment, happened or not."""
    job = message.job
    if not message.accepted or job.planner is None:
        return {"source": None, "moments": []}
    chosen = job.planner.rule_for(message)
    script = message.script
    if script is None:  # the job has not started yet; the plan is fixed, compute it to show it
        script = job.planner.script(message, job.route)
    listed = []
    for index, moment in enumerate(moments(script)):
        at = job.begin_ms + moment.offset_ms
        listed.append(
            {
                "at": iso(at),
                "at_ms": at,
                "event": moment.kind.name.lower(),
                "channel": job.channels[moment.leg] if moment.kind.name != "BLOCKED" else "hyber",
                "code": moment.code,
                "final": moment.final,
                "happened": index < message.step,
            }
        )
    return {"source": chosen[0] if chosen else "profile", "moments": listed}


def job_view(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "client_id": job.client_id,
        "kind": job.kind,
        "created": iso(job.created_ms),
        "begin": iso(job.begin_ms),
        "channels": list(job.channels),
        "channel_options": job.channel_options,
        "callback_url": job.callback_url,
        "tag": job.tag,
        "division_code": job.division_code,
        "messages": len(job.messages),
    }


def message_view(message: Message, builder: ReportBuilder, full: bool = True) -> dict[str, Any]:
    job = message.job
    view: dict[str, Any] = {
        "client_id": job.client_id,
        "message_id": message.message_id,
        "job_id": job.job_id,
        "job_kind": job.kind,
        "phone_number": message.phone,
        "extra_id": message.extra_id,
        "tag": job.tag,
        "channels": list(job.channels),
        "state": message.state.name.lower(),
        "accepted": message.accepted,
        "callback_url": job.callback_url,
        "sms_parts": message.sms_parts,
        "report": builder.simple_dr(message),
    }
    if full:
        view["texts"] = {channel: message.option(channel, "text") for channel in job.channels}
        view["advanced_report"] = builder.advanced_dr(message)
        view["plan"] = plan_view(message)
    return view


@dataclass(frozen=True, slots=True)
class MessageFilter:
    """Filters of GET /_mock/messages; None matches anything."""

    phone: str | None = None
    channel: str | None = None  # a channel of the request
    via: str | None = None  # the channel that delivered it
    status: str | None = None  # pending|active|delivered|failed|rejected|final
    job_id: str | None = None
    extra_id: str | None = None
    tag: str | None = None

    def candidates(self, account: AccountState) -> Iterable[Message]:
        """The smallest index that can answer, before the remaining checks."""
        store = account.store
        if self.job_id is not None:
            job = store.job(self.job_id)
            return job.messages if job is not None else ()
        if self.phone is not None:
            return store.by_phone(self.phone)
        if self.extra_id is not None:
            return store.by_extra_id(self.extra_id)
        return store.iter_messages()

    def matches(self, message: Message) -> bool:
        job = message.job
        if self.phone is not None and message.phone != self.phone:
            return False
        if self.extra_id is not None and message.extra_id != self.extra_id:
            return False
        if self.job_id is not None and job.job_id != self.job_id:
            return False
        if self.tag is not None and job.tag != self.tag:
            return False
        if self.channel is not None and self.channel not in job.channels:
            return False
        if self.status is not None:
            state = message.state
            wanted = self.status
            if wanted == "final" and not state.final:
                return False
            if wanted != "final" and state.name.lower() != wanted:
                return False
        if self.via is not None:
            delivered = view_of(message).delivered_leg
            if message.state is not State.DELIVERED or delivered is None:
                return False
            if delivered.channel != self.via:
                return False
        return True


STATUSES = ("pending", "active", "delivered", "failed", "rejected", "final")


def find_messages(accounts: Iterable[AccountState], filters: MessageFilter) -> list[Message]:
    found: list[Message] = []
    for account in accounts:
        found.extend(m for m in filters.candidates(account) if filters.matches(m))
    return found


def job_summary(job: Job) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for message in job.messages:
        name = message.state.name.lower()
        counts[name] = counts.get(name, 0) + 1
    return {**job_view(job), "states": counts}
