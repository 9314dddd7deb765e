"""Prometheus metrics (prometheus-client), one registry per app so servers never share them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from mock_hyber.engine.lives import NEVER
from mock_hyber.model import PLATFORM, Job, Kind
from mock_hyber.service.inspect import upcoming_moments
from mock_hyber.slicing import Steps, at_once, in_slices
from mock_hyber.state import Backend


def final_counts(job: Job, now_ms: int) -> tuple[dict[tuple[str, str], int], bool]:
    """The job's messages final at `now_ms` by (channel, delivered|failed), and whether every
    message it will ever settle has settled (the counts can no longer change)."""
    lives = job.lives
    elapsed = min(now_ms - job.begin_ms, NEVER - 1)
    has_final = lives.final_ms != NEVER
    final = has_final & (lives.final_ms <= elapsed)
    delivered = (lives.final_kind == Kind.DELIVERED) | (lives.final_kind == Kind.LATE)
    blocked = lives.final_kind == Kind.BLOCKED
    channel = np.where(blocked, len(job.channels), lives.final_leg.astype(np.int64))
    names = (*job.channels, PLATFORM)
    counts = np.bincount(channel[final] * 2 + delivered[final], minlength=2 * len(names))
    found = {
        (names[i // 2], "delivered" if i % 2 else "failed"): int(count)
        for i, count in enumerate(counts)
        if count
    }
    return found, bool((final == has_final).all())


DELIVERIES_STEP = 10_000  # callback deliveries looked at in one step
# Per account (client_id): planned moments to come, unfinished deliveries; final counts.
LevelFigures = tuple[dict[str, tuple[int, int]], dict[tuple[str, str], int]]


class _Levels(Collector):
    """Values read at scrape time: nothing to keep up to date on the hot paths. Final statuses
    are derived from the plans at each account's virtual time; a job whose every message has
    settled is counted once and remembered, and a planned job that is dropped (retention,
    reset) keeps counting what had settled by then, so the counter never goes down."""

    def __init__(self, backend: Backend, queue_depth: Any) -> None:
        self.backend = backend
        self.queue_depth = queue_depth
        self._settled: dict[Job, dict[tuple[str, str], int]] = {}
        self._retired: dict[tuple[str, str], int] = {}
        self.loops: Any = dict  # each loop's {"errors", "dead"}, once the loops are wired
        self._figures: LevelFigures | None = None  # worked out by `refresh`, for the next collect

    def on_removed(self, job: Job, now_ms: int) -> None:
        """A job is dropped: keep its final statuses (known only if it was ever planned)."""
        counts = self._settled.pop(job, None)
        if counts is None and job.planned is not None:
            counts, _ = final_counts(job, now_ms)
        for key, count in (counts or {}).items():
            self._retired[key] = self._retired.get(key, 0) + count

    async def refresh(self) -> None:
        """Work out the levels in slices between other requests (the first look at a job
        plans it; a store of a million messages is seconds of it): the next `collect`
        reports them. `collect` without a refresh works them out at once."""
        self._figures = await in_slices(self._work_out())

    def _work_out(self) -> Steps[LevelFigures]:
        per_account: dict[str, tuple[int, int]] = {}
        for account in list(self.backend.accounts.values()):
            events, _ = yield from upcoming_moments(account, account.clock.now_ms())
            unfinished = 0
            for n, delivery in enumerate(list(account.outbox.deliveries.values()), 1):
                unfinished += delivery.status in ("pending", "queued")
                if n % DELIVERIES_STEP == 0:
                    yield
            per_account[account.client_id] = (events, unfinished)
        finals = yield from self._final_totals()
        return per_account, finals

    def _final_totals(self) -> Steps[dict[tuple[str, str], int]]:
        counted: dict[Job, dict[tuple[str, str], int]] = {}
        for account in list(self.backend.accounts.values()):
            now_ms = account.clock.now_ms()
            for job in list(account.store.iter_jobs()):
                if job.removed:
                    continue  # dropped meanwhile: `on_removed` kept its counts
                counts = self._settled.get(job)
                if counts is None:
                    counts, settled = final_counts(job, now_ms)
                    if settled:
                        self._settled[job] = counts
                counted[job] = counts
                yield
        for job in [job for job in self._settled if job not in counted]:
            del self._settled[job]
        # Jobs dropped while this was worked out are in `_retired` now: counted there only.
        totals: dict[tuple[str, str], int] = dict(self._retired)
        for job, counts in counted.items():
            if not job.removed:
                for key, count in counts.items():
                    totals[key] = totals.get(key, 0) + count
        return totals

    def collect(self) -> Iterator[GaugeMetricFamily]:
        figures, self._figures = self._figures or at_once(self._work_out()), None
        per_account, finals = figures
        stored = GaugeMetricFamily(
            "mock_hyber_stored_messages", "Messages held in the store", labels=["client_id"]
        )
        jobs = GaugeMetricFamily("mock_hyber_stored_jobs", "Jobs held", labels=["client_id"])
        events = GaugeMetricFamily(
            "mock_hyber_pending_events",
            "Planned moments of held messages still to come",
            labels=["client_id"],
        )
        pending = GaugeMetricFamily(
            "mock_hyber_pending_callbacks",
            "Callback deliveries not finished",
            labels=["client_id"],
        )
        for account in self.backend.accounts.values():
            stored.add_metric([account.client_id], len(account.store))
            jobs.add_metric([account.client_id], account.store.job_count)
            upcoming, unfinished = per_account.get(account.client_id, (0, 0))
            events.add_metric([account.client_id], upcoming)
            pending.add_metric([account.client_id], unfinished)
        family = CounterMetricFamily(
            "mock_hyber_messages_final",
            "Messages with a final status, by channel (of the jobs held)",
            labels=["channel", "status"],
        )
        for (channel, status), count in sorted(finals.items()):
            family.add_metric([channel, status], count)
        yield from (stored, jobs, events, pending, family)
        errors = CounterMetricFamily(
            "mock_hyber_loop_errors",
            "Items a background loop failed on (logged; the loop went on)",
            labels=["loop"],
        )
        up = GaugeMetricFamily(
            "mock_hyber_loop_up",
            "1 while a background loop runs, 0 once it stopped",
            labels=["loop"],
        )
        for name, state in sorted(self.loops().items()):
            errors.add_metric([name], state["errors"])
            up.add_metric([name], 0 if state["dead"] else 1)
        yield from (errors, up)
        depth = GaugeMetricFamily(
            "mock_hyber_callback_queue_depth", "Due callbacks queued for the workers"
        )
        depth.add_metric([], self.queue_depth())
        yield depth


class Metrics:
    def __init__(self, backend: Backend) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "mock_hyber_http_requests",
            "HTTP requests by endpoint and status",
            ["endpoint", "status"],
            registry=r,
        )
        self.accepted = Counter(
            "mock_hyber_messages_accepted",
            "Recipients at acceptance, by outcome",
            ["outcome"],
            registry=r,
        )
        self.callback_attempts = Counter(
            "mock_hyber_callback_attempts",
            "Callback attempts by outcome",
            ["outcome"],
            registry=r,
        )
        self.callbacks_failed = Counter(
            "mock_hyber_callbacks_failed",
            "Callback deliveries failed after their last attempt",
            registry=r,
        )
        self.callback_latency = Histogram(
            "mock_hyber_callback_latency_seconds",
            "Callback request latency",
            registry=r,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self._attempts = {
            outcome: self.callback_attempts.labels(outcome)
            for outcome in ("success", "failure", "held")
        }
        self._queue_depth: Any = lambda: 0
        self._levels = _Levels(backend, lambda: self._queue_depth())
        r.register(self._levels)

    def on_removed(self, job: Job, now_ms: int) -> None:
        self._levels.on_removed(job, now_ms)

    async def refresh(self) -> None:
        """Work out what the next scrape reports, in slices between other requests."""
        await self._levels.refresh()

    def watch_queue(self, depth: Any) -> None:
        self._queue_depth = depth

    def watch_loops(self, health: Any) -> None:
        """`health()` gives each background loop's errors and why it stopped, if it did."""
        self._levels.loops = health

    def on_job(self, job: Job) -> None:
        rejected = len(job.rejected)
        self.accepted.labels("accepted").inc(job.size - rejected)
        if rejected:
            self.accepted.labels("rejected").inc(rejected)

    def on_attempt(self, ok: bool, latency_s: float, gave_up: bool) -> None:
        self._attempts["success" if ok else "failure"].inc()
        self.callback_latency.observe(latency_s)
        if gave_up:
            self.callbacks_failed.inc()

    def on_held_attempt(self, gave_up: bool) -> None:
        """An attempt recorded as failed without a request: the breaker was open."""
        self._attempts["held"].inc()
        if gave_up:
            self.callbacks_failed.inc()
