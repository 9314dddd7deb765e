"""Inspection views for the control API: a message with its plan, clocks, and the like."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from mock_hyber.engine.clock import iso_ms as iso
from mock_hyber.engine.ctr import REWRITTEN, rewrite
from mock_hyber.engine.evaluate import ends_ms, message_at
from mock_hyber.engine.lives import NEVER
from mock_hyber.engine.timeline import moments
from mock_hyber.ids import umid_of
from mock_hyber.model import REQUEST, Job, Message, State
from mock_hyber.reports import ReportBuilder
from mock_hyber.slicing import SLICE_S, Steps, in_slices
from mock_hyber.state import AccountState


async def clock_view(account: AccountState) -> dict[str, Any]:
    """The account's clock, with its planned moments still to come (counted in slices: the
    first look at jobs nobody read plans them)."""
    clock = account.clock
    now_ms = clock.now_ms()
    pending, upcoming = await in_slices(upcoming_moments(account, now_ms))
    return {
        "now": iso(now_ms),
        "now_ms": now_ms,
        "speed": clock.speed,
        "frozen": clock.frozen,
        "pending_events": pending,
        "next_event_ms": upcoming,
        "scheduled_callbacks": len(account.engine),
        # When the soonest of them is due (a wait for a callback explains itself with it).
        "next_callback_ms": account.engine.next_due_ms(),
    }


def upcoming_moments(account: AccountState, now_ms: int) -> Steps[tuple[int, int | None]]:
    """How many planned moments of the account's messages are still to come after `now_ms`,
    and when the next one is; a step per job."""
    count, soonest = 0, None
    for job in list(account.store.iter_jobs()):
        if job.removed:
            continue  # dropped while the work yielded
        ahead = _ahead(job, now_ms)
        if len(ahead):
            count += len(ahead)
            at = job.begin_ms + int(ahead.min())
            soonest = at if soonest is None else min(soonest, at)
        yield
    return count, soonest


def plan_view(message: Message) -> dict[str, Any]:
    """The message's planned life: where it came from, and each moment, happened or not."""
    job = message.job
    if not message.accepted or message.script is None:
        return {"source": None, "moments": []}
    listed = []
    for index, moment in enumerate(moments(message.script)):
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
    source = "forced" if job.versions.get(message.index, 0) > 0 else None
    return {"source": source or job.planner.source(job, message.index), "moments": listed}


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
        "messages": job.size,
    }


def tracked_fields(message: Message) -> dict[str, dict[str, Any]]:
    """The fields of each channel with ctr on as they are sent: every link rewritten to its
    tracked link, and `links` (tracked link -> original)."""
    shown: dict[str, dict[str, Any]] = {}
    for channel in message.job.channels:
        if not message.job.channel_options[channel].get("ctr"):
            continue
        links: dict[str, str] = {}
        fields: dict[str, Any] = {}
        for name in REWRITTEN[channel]:
            value = message.option(channel, name)
            if isinstance(value, str):
                fields[name] = rewrite(value, message.message_id, channel, name, links)
        fields["links"] = links
        shown[channel] = fields
    return shown


def message_view(message: Message, builder: ReportBuilder, full: bool = True) -> dict[str, Any]:
    job = message.job
    view: dict[str, Any] = {
        "client_id": job.client_id,
        "message_id": message.message_id,
        "job_id": job.job_id,
        "job_kind": job.kind,
        "phone_number": message.phone,
        "extra_id": message.extra_id,
        "tag": job.top(message.index, "tag"),
        "channels": list(job.channels),
        "state": message.state.name.lower(),
        "accepted": message.accepted,
        "callback_url": job.top(message.index, "callback_url"),
        "sms_parts": message.sms_parts,
        "report": builder.simple_dr(message),
    }
    if "whatsapp" in job.channels:  # what a WhatsApp reply to it names it by
        view["umid"] = umid_of(message.message_id)
    if full:
        view["texts"] = {channel: message.option(channel, "text") for channel in job.channels}
        tracked = tracked_fields(message)
        if tracked:
            view["ctr"] = tracked
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

    @property
    def job_level(self) -> bool:
        """Whether some filter leaves whole jobs out (job_id, tag, a channel)."""
        return any(v is not None for v in (self.job_id, self.tag, self.channel, self.via))

    def jobs(self, account: AccountState) -> Iterator[Job]:
        """The jobs that can hold a match (the job-level filters)."""
        if self.job_id is not None:
            job = account.store.job(self.job_id)
            candidates: Iterable[Job] = [job] if job is not None else []
        else:
            candidates = account.store.iter_jobs()
        for job in candidates:
            if self.tag is not None and job.tag != self.tag and not _tag_templated(job):
                continue
            if self.channel is not None and self.channel not in job.channels:
                continue
            if self.via is not None and self.via not in job.channels:
                continue
            yield job

    def matches(self, job: Job, now_ms: int) -> np.ndarray:
        """Which of the job's messages match, at `now_ms` (a boolean column)."""
        mask = np.ones(job.size, bool)
        if self.tag is not None and _tag_templated(job):  # each recipient has its own tag
            tags = [job.top(index, "tag") for index in range(job.size)]
            mask &= np.array([tag == self.tag for tag in tags], bool)
        if self.phone is not None:
            mask &= _phone_column(job, self.phone)
        if self.extra_id is not None:
            found = np.zeros(job.size, bool)
            if job.extra_ids is not None:
                found[job.extra_ids.indexes_of(self.extra_id)] = True
            mask &= found
        if self.status is not None or self.via is not None:
            states = states_at(job, now_ms)
            if self.status == "final":
                mask &= states != State.PENDING
                mask &= states != State.ACTIVE
            elif self.status is not None:
                mask &= states == State[self.status.upper()]
            if self.via is not None:
                delivering = job.lives.final_leg == job.channels.index(self.via)
                mask &= (states == State.DELIVERED) & delivering
        return mask


def _tag_templated(job: Job) -> bool:
    return job.template is not None and job.template.templates(REQUEST, "tag")


STATUSES = ("pending", "active", "delivered", "failed", "rejected", "final")


def states_at(job: Job, now_ms: int) -> np.ndarray:
    """Every message's State at `now_ms` (rejected ones included). Once the job's last moment
    has happened they never change: they are kept, and a settled job costs nothing to read."""
    if job.settled is not None:
        return job.settled  # type: ignore[no-any-return]
    states = job.lives.states_at(now_ms - job.begin_ms)
    if job.rejected:
        states[list(job.rejected)] = State.REJECTED
    if now_ms >= ends_ms(job):
        states.flags.writeable = False
        job.settled = states
    return states


def _phone_column(job: Job, phone: str) -> np.ndarray:
    mask = np.zeros(job.size, bool)
    if phone.isdigit() and len(phone) < 19:
        mask |= job.phones == int(phone)
    for index, rejection in job.rejected.items():
        if rejection.phone is not None:
            mask[index] = rejection.phone == phone
    return mask


async def find_messages(
    accounts: Iterable[AccountState], filters: MessageFilter, limit: int
) -> tuple[int, list[Message]]:
    """How many messages match, and the first `limit` of them (oldest job first). Many jobs
    not read before are planned on the way: the work is done in slices between requests."""
    return await in_slices(_matching(list(accounts), filters, limit))


def _matching(
    accounts: list[AccountState], filters: MessageFilter, limit: int
) -> Steps[tuple[int, list[Message]]]:
    total = 0
    shown: list[Message] = []
    for account in accounts:
        now_ms = account.clock.now_ms()
        for job in list(filters.jobs(account)):
            if job.removed:
                continue  # dropped while this listing yielded
            indexes = np.flatnonzero(filters.matches(job, now_ms))
            total += len(indexes)
            for index in indexes[: max(0, limit - len(shown))].tolist():
                shown.append(message_at(job, index, now_ms))
            yield
    return total, shown


COUNT_SHARE = 50  # a shared count is made again after at least 50x the time it took


class MatchCount:
    """A long-poll's running count of the messages its filters match. A job is evaluated again
    only when one of its moments has happened since it last was (or it is new, or a forced
    transition rewrote it): waiting costs a look at each job, not an evaluation of each."""

    def __init__(self, accounts: Iterable[AccountState], filters: MessageFilter) -> None:
        self.accounts = list(accounts)
        self.filters = filters
        self._known: dict[Job, tuple[int, int, int]] = {}  # matches, next change, revision
        self._last: tuple[float, int] | None = None  # (real time, total) of the last count
        self._soonest: dict[str, int] = {}  # per account: its next moment among counted jobs
        self._counting = asyncio.Lock()  # one count at a time: polls sharing it wait for it
        self.cost = 0.0  # seconds the last count held the event loop, its slices summed

    async def reached(self, min_count: int, max_age: float) -> bool:
        """Whether at least `min_count` messages match. The count is reused while at most
        `max_age` real seconds old (long-polls sharing it look at the jobs once between
        them), and not made at all while fewer messages than that are held where the
        filters can look: nothing is planned or evaluated for a count that cannot be met."""
        if self.filters.job_level:
            held = sum(job.size for a in self.accounts for job in self.filters.jobs(a))
        else:  # every held message could match: the store knows how many there are
            held = sum(len(account.store) for account in self.accounts)
        if held < min_count:
            return False
        if self._stale(max_age):
            async with self._counting:
                if self._stale(max_age):  # else a poll sharing it counted while this waited
                    now = time.monotonic()
                    self._last = (now, await self.total())
        assert self._last is not None
        return self._last[1] >= min_count

    def _stale(self, max_age: float) -> bool:
        # A count of large jobs on the move takes milliseconds: make it at most that often
        # that it holds the event loop for 1/COUNT_SHARE of the time, whatever polls wait.
        last = self._last
        return last is None or time.monotonic() - last[0] > max(max_age, self.cost * COUNT_SHARE)

    async def total(self) -> int:
        """Count, in slices of SLICE_S between other requests (many jobs not read before are
        planned on the way); `cost` becomes the time the slices took."""
        total, cost = 0, 0.0
        held: dict[Job, tuple[int, int, int]] = {}
        started = time.perf_counter()
        for account in self.accounts:
            now_ms = account.clock.now_ms()
            soonest = _NO_MOMENT
            for job in list(self.filters.jobs(account)):
                if job.removed:
                    continue  # dropped while this count yielded
                known = self._known.get(job)
                if known is None or known[1] <= now_ms or known[2] != job.revision:
                    matches = int(np.count_nonzero(self.filters.matches(job, now_ms)))
                    known = (matches, _next_moment_ms(job, now_ms), job.revision)
                held[job] = known
                total += known[0]
                soonest = min(soonest, known[1])
                if time.perf_counter() - started > SLICE_S:
                    cost += time.perf_counter() - started
                    await asyncio.sleep(0)
                    started = time.perf_counter()
            self._soonest[account.client_id] = soonest
        self.cost = cost + time.perf_counter() - started
        self._known = held  # jobs dropped meanwhile are forgotten
        return total

    def seconds_to_next(self) -> float | None:
        """Real seconds until a moment of a counted job happens (None: none is coming)."""
        soonest: float | None = None
        for account in self.accounts:
            next_ms = self._soonest.get(account.client_id, _NO_MOMENT)
            if next_ms == _NO_MOMENT:
                continue
            seconds = account.clock.real_seconds_until(next_ms / 1000)
            if seconds is not None and (soonest is None or seconds < soonest):
                soonest = seconds
        return soonest


_NO_MOMENT = 2**62


def next_moment_ms(job: Job, now_ms: int) -> int | None:
    """When the job's next moment after `now_ms` happens (virtual ms), or None."""
    at = _next_moment_ms(job, now_ms)
    return None if at == _NO_MOMENT else at


def _next_moment_ms(job: Job, now_ms: int) -> int:
    """When the job's next moment after `now_ms` happens (virtual ms), or _NO_MOMENT."""
    ahead = _ahead(job, now_ms)
    return job.begin_ms + int(ahead.min()) if len(ahead) else _NO_MOMENT


def _ahead(job: Job, now_ms: int) -> np.ndarray:
    """The offsets of the job's moments still to come after `now_ms` (none once settled)."""
    if job.settled is not None or now_ms >= ends_ms(job):
        return np.empty(0, np.uint32)
    offsets = job.lives.table["offset"]
    return offsets[(offsets > max(now_ms - job.begin_ms, -1)) & (offsets != NEVER)]


def job_summary(job: Job, now_ms: int) -> dict[str, Any]:
    counts = np.bincount(states_at(job, now_ms), minlength=len(State))
    states = {state.name.lower(): int(counts[state]) for state in State if counts[state]}
    return {**job_view(job), "states": states}
