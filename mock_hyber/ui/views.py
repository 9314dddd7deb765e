"""What the dashboard's pages show, read from the accounts as plain dicts and lists.

Columns, never Message objects in bulk: a job's progress and its recipients' filters are numpy
evaluations of the job's lives; only the rows of the page shown become Messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mock_hyber.callbacks.breaker import CLOSED, HALF_OPEN, OPEN
from mock_hyber.callbacks.watch import destination_of
from mock_hyber.engine.clock import iso_ms as iso
from mock_hyber.engine.evaluate import message_at
from mock_hyber.model import PENDING, QUEUED, Delivery, Job, Kind, State
from mock_hyber.service.inspect import (
    MessageFilter,
    job_view,
    message_view,
    next_moment_ms,
    states_at,
)
from mock_hyber.slicing import Steps, in_slices
from mock_hyber.state import AccountState, Backend

PAGE_SIZE = 50  # recipients per page
STATUSES = ("pending", "active", "delivered", "failed", "expired", "rejected")


def account_row(account: AccountState) -> dict[str, Any]:
    """An account with its clock and what it holds (no per-job evaluation)."""
    clock = account.clock
    deliveries: dict[str, int] = {}
    for delivery in account.outbox.deliveries.values():
        deliveries[delivery.status] = deliveries.get(delivery.status, 0) + 1
    faults = bool(account.api_faults.faults) or account.outbox.faults.active
    return {
        "client_id": account.client_id,
        "login": account.account.login,
        "now_ms": clock.now_ms(),
        "now": iso(clock.now_ms()),
        "speed": clock.speed,
        "frozen": clock.frozen,
        "jobs": account.store.job_count,  # filling jobs are counted, not finished
        "messages": len(account.store),
        "deliveries": deliveries,
        "faults": faults,
    }


def _latest_legs(job: Job, now_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """Per message: how many moments have happened, and the leg (channel index) of the
    latest of them (meaningless where none has)."""
    lives = job.lives
    steps = lives.steps_at(now_ms - job.begin_ms)
    latest = np.maximum(steps - 1, 0)[None, :]
    legs = np.take_along_axis(lives.legs, latest, axis=0)[0]
    return steps, legs


def _expired(job: Job, states: np.ndarray) -> np.ndarray:
    return (states == State.FAILED) & (job.lives.final_kind == Kind.EXPIRED)


SMALL_JOB = 16  # up to this many recipients, a job's counts are made message by message


def job_progress(job: Job, now_ms: int) -> dict[str, Any]:
    """A job with its counts (failed leaves the expired out) overall and by the channel of
    each message's latest moment."""
    if job.size <= SMALL_JOB:
        totals, by_channel = _counts_one_by_one(job, now_ms)
    else:
        totals, by_channel = _counts_by_columns(job, now_ms)
    done = totals["rejected"] + totals["delivered"] + totals["failed"] + totals["expired"]
    return {
        **job_view(job),
        "filling": False,
        "totals": totals,
        "by_channel": by_channel,
        "percent_done": round(100 * done / job.size) if job.size else 100,
        "next_ms": next_moment_ms(job, now_ms) if totals["accepted"] else None,
    }


_COUNTED = ("active", "delivered", "failed", "expired")


def _counts_by_columns(job: Job, now_ms: int) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    states = states_at(job, now_ms)
    counts = np.bincount(states, minlength=len(State))
    expired = _expired(job, states)
    totals = {
        "accepted": job.size - len(job.rejected),
        "rejected": int(counts[State.REJECTED]),
        "pending": int(counts[State.PENDING]),
        "active": int(counts[State.ACTIVE]),
        "delivered": int(counts[State.DELIVERED]),
        "failed": int(counts[State.FAILED]) - int(np.count_nonzero(expired)),
        "expired": int(np.count_nonzero(expired)),
    }
    by_channel: dict[str, dict[str, int]] = {}
    if totals["accepted"]:
        steps, legs = _latest_legs(job, now_ms)
        for leg, channel in enumerate(job.channels):
            on = (legs == leg) & (steps > 0) & (states != State.REJECTED)
            by_channel[channel] = {
                "active": int(np.count_nonzero(on & (states == State.ACTIVE))),
                "delivered": int(np.count_nonzero(on & (states == State.DELIVERED))),
                "failed": int(np.count_nonzero(on & (states == State.FAILED) & ~expired)),
                "expired": int(np.count_nonzero(on & expired)),
            }
    return totals, by_channel


def _counts_one_by_one(job: Job, now_ms: int) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """The same counts for a small job, without numpy's per-call cost (a page lists many)."""
    totals = dict.fromkeys(("accepted", "rejected", "pending", *_COUNTED), 0)
    totals["accepted"] = job.size - len(job.rejected)
    by_channel = {channel: dict.fromkeys(_COUNTED, 0) for channel in job.channels}
    if not totals["accepted"]:
        by_channel = {}
    for index in range(job.size):
        message = message_at(job, index, now_ms)
        state = message.state.name.lower()
        if message.state is State.FAILED and job.lives.final_kind[index] == Kind.EXPIRED:
            state = "expired"
        totals[state] += 1
        if message.step and message.state is not State.REJECTED:
            leg = int(job.lives.table[message.step - 1, index]["leg"])
            by_channel[job.channels[leg]][state] += 1
    return totals, by_channel


def jobs_of(accounts: list[AccountState], limit: int) -> tuple[int, list[dict[str, Any]]]:
    """The newest `limit` jobs of the accounts, newest first, with their progress. A job
    still being accepted (a large request filled between others) is listed as filling,
    without waiting for it."""
    # Each store holds its jobs in acceptance order: its newest are its last (a stable sort
    # keeps that order among jobs of the same virtual millisecond).
    found = [
        (job, account)
        for account in accounts
        for job in reversed(account.store.held_jobs()[-limit:])
    ]
    found.sort(key=lambda pair: pair[0].created_ms, reverse=True)
    total = sum(account.store.job_count for account in accounts)
    shown = []
    for job, account in found[:limit]:
        if account.store.is_filling(job):
            shown.append({**job_view(job), "filling": True, "next_ms": None})
        else:
            shown.append(job_progress(job, account.clock.now_ms()))
    return total, shown


@dataclass(frozen=True, slots=True)
class RecipientQuery:
    """The recipients page's search (phone or extra_id), filters and page number."""

    q: str = ""
    status: str = ""
    channel: str = ""
    page: int = 0


def recipients(job: Job, now_ms: int, query: RecipientQuery) -> dict[str, Any]:
    """One page of the job's recipients that match: the filters are column operations, and
    only the page's rows are evaluated one by one."""
    mask = np.ones(job.size, bool)
    if query.q:
        found = MessageFilter(extra_id=query.q).matches(job, now_ms)
        found |= MessageFilter(phone=query.q).matches(job, now_ms)
        mask &= found
    states = None
    if query.status:
        states = states_at(job, now_ms)
        expired = _expired(job, states)
        if query.status == "expired":
            mask &= expired
        elif query.status == "failed":
            mask &= (states == State.FAILED) & ~expired
        else:
            mask &= states == State[query.status.upper()]
    if query.channel and query.channel in job.channels:
        steps, legs = _latest_legs(job, now_ms)
        mask &= (legs == job.channels.index(query.channel)) & (steps > 0)
        if job.rejected:
            mask[list(job.rejected)] = False
    elif query.channel:
        mask[:] = False
    indexes = np.flatnonzero(mask)
    pages = max(1, -(-len(indexes) // PAGE_SIZE))
    page = min(max(query.page, 0), pages - 1)
    rows = []
    for index in indexes[page * PAGE_SIZE : (page + 1) * PAGE_SIZE].tolist():
        message = message_at(job, index, now_ms)
        rows.append(_recipient_row(job, message))
    return {"total": len(indexes), "page": page, "pages": pages, "rows": rows}


def _recipient_row(job: Job, message: Any) -> dict[str, Any]:
    channel, updated_ms, code = None, None, message.error_code
    if message.script is not None and message.step:
        latest = job.lives.table[message.step - 1, message.index]
        channel = job.channels[int(latest["leg"])]
        updated_ms = job.begin_ms + int(latest["offset"])
        code = int(latest["code"])
    state = message.state.name.lower()
    if message.state is State.FAILED and job.lives.final_kind[message.index] == Kind.EXPIRED:
        state = "expired"
    return {
        "index": message.index,
        "message_id": message.message_id,
        "phone": message.phone,
        "extra_id": message.extra_id,
        "state": state,
        "channel": channel,
        "updated": iso(updated_ms) if updated_ms is not None else None,
        "code": code,
    }


def timeline(account: AccountState, message: Any) -> dict[str, Any]:
    """A message's legs, statuses with their virtual times and codes, rendered texts, the
    moments still to come, and every callback attempt that carried it."""
    view = message_view(message, account.reports())
    legs: dict[str, list[dict[str, Any]]] = {}
    for moment in view["plan"]["moments"]:
        legs.setdefault(moment["channel"], []).append(moment)
    deliveries = sorted(account.outbox.find(message_id=message.message_id), key=lambda d: d.id)
    to_come = [m["at_ms"] for m in view["plan"]["moments"] if not m["happened"]]
    return {
        **view,
        "legs": legs,
        "callbacks": [delivery_row(d) for d in deliveries],
        "next_ms": min(to_come, default=None),
    }


def delivery_row(delivery: Delivery) -> dict[str, Any]:
    last = delivery.attempts[-1] if delivery.attempts else None
    return {
        "id": delivery.id,
        "client_id": delivery.client_id,
        "kind": delivery.kind,
        "url": delivery.url,
        "status": delivery.status,
        "messages": len(delivery.message_ids),
        "message_ids": delivery.message_ids[:3],
        "created": iso(delivery.created_ms),
        "response_code": last.status_code if last else None,
        "error": last.error if last else None,
        "note": delivery.note,
        "next_attempt": iso(delivery.due_ms) if delivery.status in (PENDING, QUEUED) else None,
        "attempts": [
            {
                "number": a.number,
                "at": iso(a.at_ms),
                "response_code": a.status_code,
                "error": a.error,
                "latency_ms": round(a.latency_ms, 1),
            }
            for a in delivery.attempts
        ],
    }


RECENT = 20  # deliveries listed under each receiver


async def receivers(accounts: list[AccountState]) -> list[dict[str, Any]]:
    """Callback deliveries grouped by receiver URL: counts by status, the last error, and the
    latest deliveries. One pass over the attempt log, in slices between requests."""
    return await in_slices(_receivers(accounts))


def _receivers(accounts: list[AccountState]) -> Steps[list[dict[str, Any]]]:
    groups: dict[str, dict[str, Any]] = {}
    for account in accounts:
        for delivery in list(account.outbox.deliveries.values()):
            group = groups.get(delivery.url)
            if group is None:
                group = groups[delivery.url] = {
                    "url": delivery.url,
                    "counts": {},
                    "last_error": None,
                    "recent": [],
                }
            group["counts"][delivery.status] = group["counts"].get(delivery.status, 0) + 1
            last = delivery.attempts[-1] if delivery.attempts else None
            if last is not None and not (last.status_code and 200 <= last.status_code < 300):
                error = last.error or f"HTTP {last.status_code}"
                if group["last_error"] is None or last.at_ms >= group["last_error"]["at_ms"]:
                    at = {"at_ms": last.at_ms, "at": iso(last.at_ms)}
                    group["last_error"] = {**at, "error": error}
            group["recent"].append(delivery)
            if len(group["recent"]) > 2 * RECENT:
                group["recent"] = group["recent"][-RECENT:]
            yield
    for group in groups.values():
        recent = sorted(group["recent"], key=lambda d: d.id)[-RECENT:]
        group["recent"] = [delivery_row(d) for d in reversed(recent)]
    return sorted(groups.values(), key=lambda group: group["url"])


def destination_summary(accounts: list[AccountState], urls: list[str]) -> dict[str, dict[str, Any]]:
    """Each receiver URL's circuit breaker (see GET /_mock/callbacks/destinations), keyed by
    URL; when accounts share a receiver, the one furthest from closed is shown."""
    rank = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}
    summary: dict[str, dict[str, Any]] = {}
    for url in urls:
        receiver = destination_of(url)
        for account in accounts:
            breaker = account.outbox.breakers.get(receiver)
            if breaker is None:
                continue
            shown = summary.get(url)
            if shown is not None and rank[shown["breaker"]] >= rank[breaker.state]:
                continue
            view: dict[str, Any] = {
                "breaker": breaker.state,
                "failures in a row": breaker.failures,
            }
            if breaker.state == OPEN:
                view["open until"] = iso(breaker.until_ms)
            if breaker.held:
                view["held attempts"] = breaker.held
            summary[url] = view
    return summary


def rules(backend: Backend) -> dict[str, Any]:
    return {
        "magic": [number.model_dump(exclude_defaults=True) for number in backend.magic],
        "scenarios": {
            client_id: account.engine.planner.describe()
            for client_id, account in backend.accounts.items()
        },
    }


def faults(backend: Backend) -> dict[str, Any]:
    return {
        client_id: {
            "api": [
                {k: v for k, v in fault.items() if k != "remaining"}
                for fault in account.api_faults.view()
            ],
            "callbacks": account.outbox.faults.model_dump(),
        }
        for client_id, account in backend.accounts.items()
    }
