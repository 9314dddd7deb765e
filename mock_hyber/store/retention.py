"""Retention: what to forget so a long-running instance's memory stays bounded.

Oldest jobs go first, whole (a job and all its messages), once an account holds more than
`max_messages` messages or `max_jobs` jobs, or once a job is older than `max_age_ms` of the
account's virtual clock. A message that was still on its way is dropped with its job (its
remaining events are skipped). Finished callback deliveries (delivered, failed, dropped)
beyond `max_callbacks` or older than the same age go too; unfinished ones always stay.
"""

from __future__ import annotations

from dataclasses import dataclass

from mock_hyber.model import FINISHED, Delivery, Job
from mock_hyber.store.memory import MemoryStore


@dataclass(frozen=True, slots=True)
class Limits:
    max_messages: int
    max_jobs: int
    max_callbacks: int
    max_age_ms: int


def select_expired(
    store: MemoryStore, deliveries: dict[int, Delivery], limits: Limits, now_ms: int
) -> tuple[list[Job], list[int]]:
    """Remove what the limits say from `store` and `deliveries`; returns what went."""
    oldest_allowed = now_ms - limits.max_age_ms
    removed: list[Job] = []
    # Only sizes and ages count here: a job still filling is not finished for it.
    while store.job_count > 1:  # the newest job always stays
        job = store.oldest_job()
        assert job is not None
        too_many = len(store) > limits.max_messages or store.job_count > limits.max_jobs
        if not too_many and job.created_ms >= oldest_allowed:
            break
        removed.append(job)
        store.remove_job(job)  # what is scheduled for it is skipped from now on
    dropped: list[int] = []
    excess = len(deliveries) - limits.max_callbacks
    for delivery in list(deliveries.values()):
        if excess <= 0 and delivery.created_ms >= oldest_allowed:
            break
        if delivery.status in FINISHED:
            del deliveries[delivery.id]
            dropped.append(delivery.id)
            excess -= 1
    return removed, dropped
