"""Retention: keeps a long-running instance's memory bounded.

Oldest jobs go first, whole (a job and all its messages), once an account holds more than
`retention_max_messages` messages or `retention_max_jobs` jobs, or once a job is older than
`retention_max_age` seconds of the account's virtual clock. A message that was still on its way
is dropped with its job (its remaining events are skipped). Finished callback deliveries
(delivered, failed, dropped) beyond `retention_max_callbacks` or older than the same age go too;
unfinished ones always stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from mock_hyber.callbacks.outbox import DELIVERED, DROPPED, FAILED
from mock_hyber.store.models import Job

if TYPE_CHECKING:
    from mock_hyber.state import AccountState, Backend

log = logging.getLogger("mock_hyber.store")
FINISHED = (DELIVERED, FAILED, DROPPED)


def _drop_job(account: AccountState, job: Job) -> None:
    account.store.remove_job(job)
    for message in job.messages:
        message.script = None  # any heap entry left for it is now stale
    job.messages = []  # a job that has not started yet starts with nothing


def enforce(account: AccountState) -> tuple[int, int]:
    """Apply the limits to one account; returns (jobs removed, deliveries removed)."""
    settings = account.settings
    store = account.store
    now = account.clock.now_ms()
    oldest_allowed = now - int(settings.retention_max_age * 1000)
    removed: list[Job] = []
    while len(store.jobs) > 1:  # the newest job always stays
        job = store.oldest_job()
        assert job is not None
        too_many = (
            len(store) > settings.retention_max_messages
            or len(store.jobs) > settings.retention_max_jobs
        )
        if not too_many and job.created_ms >= oldest_allowed:
            break
        removed.append(job)
        _drop_job(account, job)
    dropped_deliveries = []
    deliveries = account.outbox.deliveries
    excess = len(deliveries) - settings.retention_max_callbacks
    for delivery in list(deliveries.values()):
        if excess <= 0 and delivery.created_ms >= oldest_allowed:
            break
        if delivery.status in FINISHED:
            del deliveries[delivery.id]
            dropped_deliveries.append(delivery.id)
            excess -= 1
    journal = account.backend.journal
    if journal is not None:
        if removed:
            journal.forget_jobs([job.job_id for job in removed])
        if dropped_deliveries:
            journal.forget_deliveries(dropped_deliveries)
    return len(removed), len(dropped_deliveries)


class Retention:
    """Applies retention every `retention_interval` real seconds, and after large intakes."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="retention")

    def run_once(self) -> None:
        for account in self.backend.accounts.values():
            jobs, deliveries = enforce(account)
            if jobs or deliveries:
                log.info(
                    "retention removed %d jobs and %d callback deliveries of account %s",
                    jobs,
                    deliveries,
                    account.client_id,
                )

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.backend.settings.retention_interval)
            try:
                self.run_once()
            except Exception:
                log.exception("retention failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
