"""The callback outbox of one account: every report to deliver, its attempts and its schedule.

The engine tells the outbox what happened (a listener); the outbox decides what to POST where
and when (on the account's virtual clock); the dispatcher does the HTTP and reports back each
attempt. Nothing accepted is lost: a delivery ends `delivered` (2xx) or `failed` after its last
attempt, or `dropped` when a fault said so; all of them stay in the log.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from mock_hyber.callbacks.breaker import BreakerPolicy, Breakers
from mock_hyber.callbacks.faults import CallbackFaults, decide
from mock_hyber.callbacks.payloads import delivery_report
from mock_hyber.callbacks.policy import CallbackPolicy
from mock_hyber.codes import Catalogue
from mock_hyber.engine.clock import iso_ms as iso
from mock_hyber.model import (
    DELIVERED,
    DROPPED,
    FAILED,
    PENDING,
    QUEUED,
    Attempt,
    Counter,
    Delivery,
    Happening,
    Kind,
)
from mock_hyber.reports import ReportBuilder


def compact_json(value: Any) -> bytes:
    """orjson's bytes keep their larger working buffer (about 4 KB); a copy is exact-size,
    which matters when a million reports wait in the outbox."""
    return bytes(memoryview(orjson.dumps(value)))


def delivery_view(delivery: Delivery, with_body: bool = True) -> dict[str, Any]:
    """A delivery as the attempt log shows it."""
    last = delivery.attempts[-1] if delivery.attempts else None
    data: dict[str, Any] = {
        "id": delivery.id,
        "client_id": delivery.client_id,
        "kind": delivery.kind,
        "url": delivery.url,
        "status": delivery.status,
        "message_ids": list(delivery.message_ids),
        "job_ids": list(delivery.job_ids),
        "created": iso(delivery.created_ms),
        "attempt_count": len(delivery.attempts),
        "response_code": last.status_code if last else None,
        "error": last.error if last else None,
        "next_attempt": iso(delivery.due_ms) if delivery.status in (PENDING, QUEUED) else None,
        "next_attempt_ms": delivery.due_ms if delivery.status in (PENDING, QUEUED) else None,
        "note": delivery.note,
        "attempts": [
            {
                "attempt": a.number,
                "at": iso(a.at_ms),
                "at_ms": a.at_ms,
                "response_code": a.status_code,
                "error": a.error,
                "latency_ms": round(a.latency_ms, 3),
            }
            for a in delivery.attempts
        ],
    }
    if with_body:
        data["body"] = orjson.loads(delivery.body)
    return data


@dataclass(slots=True)
class _Batch:
    reports: list[dict[str, Any]] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    job_ids: dict[str, None] = field(default_factory=dict)
    generation: int = 0


class Outbox:
    """`new_rng` gives the account's callback random stream afresh (at each reset), `now_ms`
    reads the account's clock, `ids` numbers deliveries for the whole backend."""

    def __init__(
        self,
        client_id: str,
        policy: CallbackPolicy,
        catalogue: Catalogue,
        new_rng: Callable[[], random.Random],
        now_ms: Callable[[], int],
        ids: Counter,
        breaker: BreakerPolicy | None = None,
    ) -> None:
        self.client_id = client_id
        self.policy = policy
        self.breaker_policy = breaker or BreakerPolicy(threshold=0, open_ms=1, open_max_ms=1)
        self.builder = ReportBuilder(catalogue)
        self._new_rng = new_rng
        self._now_ms = now_ms
        self._ids = ids
        self.faults = CallbackFaults()
        self.wake: Callable[[], None] | None = None  # wakes the dispatcher (loops wiring)
        self.changed: Callable[[Delivery], None] | None = None  # each changed delivery (journal)
        self.revision = 0  # counts the changed deliveries: the dashboard looks only when it moved
        self.reset()

    def reset(self) -> None:
        self.deliveries: dict[int, Delivery] = {}
        self._heap: list[tuple[int, int, Any]] = []
        self._seq = itertools.count()
        self._batches: dict[str, _Batch] = {}
        self.rng = self._new_rng()
        self.faults = CallbackFaults()
        self.breakers = Breakers(self.breaker_policy)

    # -- from the engine ------------------------------------------------------------------

    def wants(self, happening: Happening) -> bool:
        message = happening.message
        if (
            message.job.callback_url is None
            or message.job.top(message.index, "callback_url") is None
        ):
            return False
        if happening.final:
            return True
        if happening.kind is Kind.SEEN:
            return self.policy.report_seen
        return happening.kind is Kind.LATE and self.policy.report_late

    def on_happening(self, happening: Happening) -> None:
        if not self.wants(happening):
            return
        message = happening.message
        url = message.job.top(message.index, "callback_url")
        assert url is not None
        report = delivery_report(happening, self.builder, self.policy.number_as_string)
        if self.policy.mode == "batched":
            self._add_to_batch(url, report, message.message_id, message.job.job_id, happening)
        else:
            body = compact_json(report)
            self.add(
                "report", url, body, (message.message_id,), (message.job.job_id,), happening.at_ms
            )

    # -- deliveries -----------------------------------------------------------------------

    def add(
        self,
        kind: str,
        url: str,
        body: bytes,
        message_ids: tuple[str, ...],
        job_ids: tuple[str, ...],
        at_ms: int,
        apply_faults: bool = True,
    ) -> Delivery:
        """A new delivery due at `at_ms`, with callback faults applied when they are on."""
        decision = decide(self.faults, self.rng) if apply_faults else None
        delivery = Delivery(
            self._ids.next(),
            self.client_id,
            kind,
            url,
            body,
            message_ids,
            job_ids,
            created_ms=at_ms,
            due_ms=at_ms,
        )
        self.deliveries[delivery.id] = delivery
        if decision is not None and decision.note:
            delivery.note = "; ".join(decision.note)
        if decision is not None and decision.drop:
            delivery.status = DROPPED
            self._changed(delivery)
            return delivery
        if decision is not None:
            delivery.due_ms += decision.extra_ms
        self._schedule(delivery)
        if decision is not None and decision.duplicate:
            twin = Delivery(
                self._ids.next(),
                delivery.client_id,
                kind,
                url,
                body,
                message_ids,
                job_ids,
                created_ms=at_ms,
                due_ms=delivery.due_ms,
                note=f"duplicate of {delivery.id}",
            )
            self.deliveries[twin.id] = twin
            self._schedule(twin)
        return delivery

    def _schedule(self, delivery: Delivery) -> None:
        delivery.status = PENDING
        heapq.heappush(self._heap, (delivery.due_ms, next(self._seq), delivery))
        self._changed(delivery)
        if self.wake is not None:
            self.wake()

    def _changed(self, delivery: Delivery) -> None:
        self.revision += 1
        if self.changed is not None:
            self.changed(delivery)

    def restore(self, delivery: Delivery) -> None:
        """Put back a stored delivery; unfinished ones are scheduled again."""
        self.deliveries[delivery.id] = delivery
        if delivery.status in (PENDING, QUEUED):
            heapq.heappush(self._heap, (delivery.due_ms, next(self._seq), delivery))
            delivery.status = PENDING

    def batches_state(self) -> list[dict[str, Any]]:
        """Reports waiting in batches, as data (persistence)."""
        return [
            {
                "url": url,
                "reports": b.reports,
                "message_ids": b.message_ids,
                "job_ids": list(b.job_ids),
            }
            for url, b in self._batches.items()
        ]

    def restore_batches(self, state: list[dict[str, Any]], now_ms: int) -> None:
        for item in state:
            batch = self._batches[item["url"]] = _Batch(
                item["reports"],
                item["message_ids"],
                dict.fromkeys(item["job_ids"]),
                generation=next(self._seq),
            )
            heapq.heappush(self._heap, (now_ms, next(self._seq), (item["url"], batch.generation)))

    def _add_to_batch(
        self, url: str, report: dict[str, Any], message_id: str, job_id: str, happening: Happening
    ) -> None:
        batch = self._batches.get(url)
        if batch is None:
            batch = self._batches[url] = _Batch(generation=next(self._seq))
            flush_at = happening.at_ms + self.policy.batch_period_ms
            heapq.heappush(self._heap, (flush_at, next(self._seq), (url, batch.generation)))
        batch.reports.append(report)
        batch.message_ids.append(message_id)
        batch.job_ids[job_id] = None
        if len(batch.reports) >= self.policy.batch_size:
            self._flush(url, happening.at_ms)
        elif self.wake is not None:
            self.wake()

    def _flush(self, url: str, at_ms: int) -> None:
        batch = self._batches.pop(url, None)
        if batch is None or not batch.reports:
            return
        body = compact_json(batch.reports)
        self.add("batch", url, body, tuple(batch.message_ids), tuple(batch.job_ids), at_ms)

    def next_due_ms(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now_ms: int) -> Iterator[Delivery]:
        """Deliveries whose attempt is due; batches whose period ran out are flushed first."""
        heap = self._heap
        while heap and heap[0][0] <= now_ms:
            due_ms, _, item = heapq.heappop(heap)
            if isinstance(item, Delivery):
                if item.status == PENDING and item.due_ms == due_ms:
                    item.status = QUEUED
                    yield item
                continue
            url, generation = item
            batch = self._batches.get(url)
            if batch is not None and batch.generation == generation:
                self._flush(url, due_ms)

    def has_due(self, now_ms: int) -> bool:
        for due_ms, _, item in self._heap:
            if due_ms <= now_ms and (not isinstance(item, Delivery) or item.status == PENDING):
                return True
        return False

    def record(self, delivery: Delivery, attempt: Attempt, final: bool = False) -> None:
        """The dispatcher's account of one attempt: done, or retried later, or failed (at
        once when `final`: a destination refused by policy is not retried)."""
        delivery.attempts.append(attempt)
        if attempt.status_code is not None and 200 <= attempt.status_code < 300:
            delivery.status = DELIVERED
            self._changed(delivery)
            return
        if final or delivery.round_attempts >= self.policy.max_attempts:
            delivery.status = FAILED
            self._changed(delivery)
            return
        wait = self.policy.retry_delay_ms(delivery.round_attempts, self.rng.random())
        delivery.due_ms = attempt.at_ms + wait
        self._schedule(delivery)

    def redeliver(self, delivery: Delivery) -> None:
        """Another round of attempts from now, whatever the delivery's state."""
        delivery.due_ms = self._now_ms()
        delivery.round_start = len(delivery.attempts)
        delivery.note = f"redelivered after {delivery.round_start} attempts"
        self._schedule(delivery)

    # -- inspection -----------------------------------------------------------------------

    def find(
        self,
        message_id: str | None = None,
        job_id: str | None = None,
        url: str | None = None,
        status: str | None = None,
        kind: str | None = None,
    ) -> list[Delivery]:
        found = []
        for delivery in self.deliveries.values():
            if message_id is not None and message_id not in delivery.message_ids:
                continue
            if job_id is not None and job_id not in delivery.job_ids:
                continue
            if url is not None and delivery.url != url:
                continue
            if status is not None and delivery.status != status:
                continue
            if kind is not None and delivery.kind != kind:
                continue
            found.append(delivery)
        return found
