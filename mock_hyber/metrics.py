"""Prometheus metrics (prometheus-client), one registry per app so servers never share them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from mock_hyber.model import Happening, Job, Kind
from mock_hyber.state import Backend


class _Levels(Collector):
    """Gauges read at scrape time: nothing to keep up to date on the hot paths."""

    def __init__(self, backend: Backend, queue_depth: Any) -> None:
        self.backend = backend
        self.queue_depth = queue_depth

    def collect(self) -> Iterator[GaugeMetricFamily]:
        accounts = self.backend.accounts.values()
        stored = GaugeMetricFamily(
            "mock_hyber_stored_messages", "Messages held in the store", labels=["client_id"]
        )
        jobs = GaugeMetricFamily("mock_hyber_stored_jobs", "Jobs held", labels=["client_id"])
        events = GaugeMetricFamily(
            "mock_hyber_pending_events", "Simulation events waiting", labels=["client_id"]
        )
        pending = GaugeMetricFamily(
            "mock_hyber_pending_callbacks",
            "Callback deliveries not finished",
            labels=["client_id"],
        )
        for account in accounts:
            stored.add_metric([account.client_id], len(account.store))
            jobs.add_metric([account.client_id], len(account.store.jobs))
            events.add_metric([account.client_id], len(account.engine))
            unfinished = sum(
                1 for d in account.outbox.deliveries.values() if d.status in ("pending", "queued")
            )
            pending.add_metric([account.client_id], unfinished)
        yield from (stored, jobs, events, pending)
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
        self.final = Counter(
            "mock_hyber_messages_final",
            "Messages reaching a final status, by channel",
            ["channel", "status"],
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
        self._queue_depth: Any = lambda: 0
        r.register(_Levels(backend, lambda: self._queue_depth()))

    def watch_queue(self, depth: Any) -> None:
        self._queue_depth = depth

    def on_job(self, job: Job) -> None:
        accepted = sum(1 for message in job.messages if message.accepted)
        self.accepted.labels("accepted").inc(accepted)
        if len(job.messages) > accepted:
            self.accepted.labels("rejected").inc(len(job.messages) - accepted)

    def on_happening(self, happening: Happening) -> None:
        if not happening.final:
            return
        if happening.kind is Kind.BLOCKED:
            channel = "hyber"
        else:
            channel = happening.message.job.channels[happening.leg]
        status = "delivered" if happening.kind in (Kind.DELIVERED, Kind.LATE) else "failed"
        self.final.labels(channel, status).inc()

    def on_attempt(self, ok: bool, latency_s: float, gave_up: bool) -> None:
        self.callback_attempts.labels("success" if ok else "failure").inc()
        self.callback_latency.observe(latency_s)
        if gave_up:
            self.callbacks_failed.inc()
