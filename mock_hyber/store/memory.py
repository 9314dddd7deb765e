"""In-memory store of one account: its jobs, in acceptance order, as columns.

A message is (job, index): its id decodes to the job's number and its index (see `ids`), so no
index is kept per message. Look-ups by phone or extra_id scan the jobs' columns (numpy for
phones), newest first where only the latest counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from mock_hyber.ids import JOB_INDEX, IdCodec
from mock_hyber.model import Job

Found = tuple[Job, int]


class MemoryStore:
    def __init__(self, ids: IdCodec) -> None:
        self.ids = ids
        self._jobs: dict[str, Job] = {}
        self._by_number: dict[int, Job] = {}
        self._messages = 0
        # Jobs whose recipient columns are still being filled (a deferred intake): each with
        # what fills the next slice, and what finishes its acceptance once it is full.
        self._filling: dict[Job, tuple[Iterator[None], Callable[[Job], None]]] = {}

    def add_job(self, job: Job) -> None:
        self._jobs[job.job_id] = job
        self._by_number[job.number] = job
        self._messages += job.size

    def add_filling(self, job: Job, fill: Iterator[None], done: Callable[[Job], None]) -> None:
        """Hold a job whose columns `fill` completes slice by slice; `done(job)` then."""
        self.add_job(job)
        self._filling[job] = (fill, done)

    @property
    def filling(self) -> bool:
        return bool(self._filling)

    def fill_slice(self) -> bool:
        """Fill one slice of the oldest filling job; True while any job is still filling."""
        if not self._filling:
            return False
        job, (fill, done) = next(iter(self._filling.items()))
        if next(fill, StopIteration) is StopIteration:
            del self._filling[job]
            done(job)
        return bool(self._filling)

    def settle(self) -> None:
        """Finish filling every job: what reads a job's columns calls this first."""
        while self._filling:
            job, (fill, done) = next(iter(self._filling.items()))
            for _ in fill:
                pass
            del self._filling[job]
            done(job)

    def held_jobs(self) -> list[Job]:
        """Every job held, filling ones included (without finishing them)."""
        return list(self._jobs.values())

    def is_filling(self, job: Job) -> bool:
        """Whether the job's recipient columns are still being filled (not yet readable)."""
        return job in self._filling

    @property
    def job_count(self) -> int:
        """How many jobs are held, filling ones included (without finishing them)."""
        return len(self._jobs)

    @property
    def jobs(self) -> dict[str, Job]:
        """Every job, complete, in acceptance order."""
        if self._filling:
            self.settle()
        return self._jobs

    def remove_job(self, job: Job) -> None:
        """Forget a job and its messages (retention)."""
        self._filling.pop(job, None)
        if self._jobs.pop(job.job_id, None) is not None:
            del self._by_number[job.number]
            self._messages -= job.size
        job.removed = True

    def oldest_job(self) -> Job | None:
        return next(iter(self._jobs.values()), None)

    def job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def locate(self, message_id: str) -> Found | None:
        """The job and index of a message id this account gave out."""
        found = self.ids.locate(message_id)
        if found is None:
            return None
        if self._filling:
            self.settle()
        job = self._by_number.get(found[0])
        index = found[1]
        if job is None or index == JOB_INDEX or index >= job.size:
            return None
        return job, index

    def by_extra_id(self, extra_id: str) -> list[Found]:
        found: list[Found] = []
        for job in self.jobs.values():
            if job.extra_ids is not None:
                found += [(job, i) for i in job.extra_ids.indexes_of(extra_id)]
        return found

    def latest_by_extra_id(self, extra_id: str) -> Found | None:
        for job in reversed(self.jobs.values()):
            if job.extra_ids is not None:
                found = job.extra_ids.indexes_of(extra_id)
                if found:
                    return job, found[-1]
        return None

    def by_phone(self, phone: str) -> list[Found]:
        found: list[Found] = []
        number = int(phone) if phone.isdigit() and len(phone) < 19 else None
        for job in self.jobs.values():
            indexes: list[int] = []
            if number is not None:
                indexes = np.flatnonzero(job.phones == number).tolist()
            # Rejected phone_numbers keep the text they were sent as.
            indexes += [
                i for i, r in job.rejected.items() if r.phone is not None and r.phone == phone
            ]
            found += [(job, i) for i in sorted(indexes)]
        return found

    def iter_jobs(self) -> Iterator[Job]:
        return iter(self.jobs.values())

    def __len__(self) -> int:
        return self._messages

    def reset(self) -> None:
        self._filling.clear()
        for job in self._jobs.values():
            job.removed = True
        self._jobs.clear()
        self._by_number.clear()
        self._messages = 0
