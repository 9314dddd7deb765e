"""The scheduler of one account: only what must happen at a virtual time.

A message's life is derived, never executed (see engine.evaluate): reports, listings and
metrics evaluate the plan at the clock's time. What cannot wait for a reader is what leaves
the process: the moments a job's `callback_url` is told about (the final status, and seen /
late deliveries when the account reports them). Those sit on one heap of `(due_ms, seq, item)`:
one item per job (a `_Stream` over its reported moments, sorted once, in numpy, when the job is
admitted) plus one per message decided one by one (magic numbers, rules, forced transitions).
A job without a callback_url costs nothing after acceptance. Cancellation is lazy: a removed
job, or a message whose life was rewritten, is skipped when its entry comes up.

`emitted_ms` is the watermark of what was handed to the listeners: every reported moment due
at or before it. Persistence saves it with the callback log, so a restart replays the plans
and re-emits only what came after it.
"""

from __future__ import annotations

import heapq
import itertools
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from mock_hyber.engine.clock import VirtualClock
from mock_hyber.engine.evaluate import message_at
from mock_hyber.engine.planner import Planner, route_of
from mock_hyber.engine.timeline import FINAL
from mock_hyber.model import Happening, Job, Kind

Listener = Callable[[Happening], None]
STREAM_SLICE = 10_000  # messages whose reported moments are sorted at a time while planning
_MOMENT = struct.Struct("<IBBI")
_PLAIN = 0x7F
KIND_OF_BYTE = tuple(
    Kind(b & _PLAIN) if (b & _PLAIN) in Kind._value2member_map_ else None for b in range(256)
)


@dataclass(slots=True, eq=False)
class _Stream:
    """A job's reported moments in time order (dues are virtual ms) and a cursor into them."""

    job: Job
    dues: Any  # int64
    rows: Any  # message index of each moment
    slots: Any  # the moment's position in its message's script
    cursor: int = 0


def _rows_of(indexes: set[int]) -> Any:
    return np.fromiter(indexes, np.intp, len(indexes))


def _merged(parts: list[tuple[Any, Any, Any]]) -> tuple[Any, Any, Any]:
    """Sorted parts of consecutive messages as one: a stable sort by offset keeps ties in
    message order (a merge of the sorted runs, in numpy's timsort)."""
    if len(parts) == 1:
        return parts[0]
    offsets, rows, slots = (np.concatenate(column) for column in zip(*parts, strict=True))
    order = np.argsort(offsets, kind="stable")
    return offsets[order], rows[order], slots[order]


@dataclass(slots=True, eq=False)
class _One:
    """One reported moment of a message decided one by one; stale once its version moved."""

    job: Job
    index: int
    slot: int
    version: int


@dataclass(slots=True)
class Reporting:
    """Which moments leave the process, besides final statuses."""

    seen: bool = False
    late: bool = False


class AccountEngine:
    def __init__(
        self, clock: VirtualClock, planner: Planner, seed: int, reporting: Reporting
    ) -> None:
        self.clock = clock
        self.planner = planner
        self.seed = seed
        self.reporting = reporting
        self._heap: list[tuple[int, int, _Stream | _One]] = []
        self._seq = itertools.count()
        self.listeners: list[Listener] = []
        self.on_schedule: Callable[[], None] | None = None  # wakes the real-time runner
        self.on_change: Callable[[], None] | None = None  # wakes long-polls
        self.emitted_ms = -1
        self.skip_through_ms = -1  # after a restore: what was emitted before the restart
        # Reporting what a clock change made due, in slices (loops.runner.report_due): while
        # it does, the callback feeder leaves this account alone, as if it were done at once.
        self.catching_up = 0

    def reset(self, clock: VirtualClock, planner: Planner) -> None:
        """Drop everything scheduled; keep listeners and the runner's wake-up."""
        self.clock = clock
        self.planner = planner
        self._heap.clear()
        self.emitted_ms = -1
        self.skip_through_ms = -1
        self._notify()

    def __len__(self) -> int:
        return len(self._heap)

    def next_due_ms(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    # -- admission --------------------------------------------------------------------------

    def prepare(self, job: Job) -> None:
        """Fix what a job's plan depends on at acceptance: the planner (rules) in force, and
        when its cascade begins. Its lives are planned when first needed."""
        if job.plan is None:
            job.planner = self.planner
            job.begin_ms = max(job.created_ms, job.start_ms or 0)
            job.plan = self._plan

    def planning(self, job: Job) -> Iterator[None]:
        """Plan a job whose callback needs its lives, a slice at a time (the intake loop);
        `admit` then only schedules its reports."""
        self.prepare(job)
        if job.callback_url is None or job.planned is not None:
            return
        job.route = route_of(job)
        yield
        lives, decided = yield from job.planner.lives_in_slices(job, self.seed)
        job.versions = dict.fromkeys(decided, 0)
        job.planned = lives
        yield
        # Its reported moments sorted in slices too, for `admit` to take.
        parts, by_one = [], _rows_of(decided)
        for start in range(0, job.size, STREAM_SLICE):
            parts.append(self._reported_moments(job, by_one, start, start + STREAM_SLICE))
            yield
        job.reported = (self._reporting_key(), _merged(parts))

    def admit(self, job: Job) -> None:
        """Admit a newly accepted (or restored) job: schedule what its callback reports."""
        self.prepare(job)
        if job.callback_url is not None:
            lives = job.lives  # planned now: its reports must be scheduled
            decided = set(job.versions)
            self._schedule_stream(job, decided)
            for index in decided:
                self._schedule_one(job, index, after_ms=self.skip_through_ms)
            assert lives is job.planned
        self._notify()

    def _plan(self, job: Job) -> Any:
        job.route = route_of(job)
        lives, decided = job.planner.lives(job, self.seed)
        job.versions = dict.fromkeys(decided, 0)
        return lives

    def rewrite(self, job: Job, index: int, script: bytes, kept: int) -> None:
        """Replace a message's life from now on (a forced transition): its first `kept`
        moments happened already; what its callback was due to report is dropped, and the new
        moments are reported when they fall due."""
        job.lives.set_script(index, script)
        job.versions[index] = job.versions.get(index, 0) + 1
        job.ends_ms = job.settled = None  # its end moved: evaluate it again
        job.revision += 1
        if job.callback_url is not None:
            self._schedule_one(job, index, after_ms=self.skip_through_ms, from_slot=kept)
        self._notify()

    def _reported_mask(self, kinds: Any) -> Any:
        mask = kinds >= FINAL
        if self.reporting.seen:
            mask |= (kinds & _PLAIN) == Kind.SEEN
        if self.reporting.late:
            mask |= (kinds & _PLAIN) == Kind.LATE
        return mask

    def _reporting_key(self) -> tuple[bool, bool]:
        return self.reporting.seen, self.reporting.late

    def _reported_moments(
        self, job: Job, by_one: Any, start: int, stop: int
    ) -> tuple[Any, Any, Any]:
        """The reported moments of messages start..stop (less `by_one`, the rows decided one
        by one) in time order, ties by message then position: (offsets, rows, slots)."""
        table = job.lives.table[:, start:stop]
        mask = self._reported_mask(table["kind"])
        skipped = by_one[(by_one >= start) & (by_one < stop)] - start
        if len(skipped):
            mask[:, skipped] = False
        slots, rows = np.nonzero(mask)
        offsets = table["offset"][slots, rows]
        order = np.lexsort((slots, rows, offsets))
        return offsets[order], rows[order] + start, slots[order]

    def _schedule_stream(self, job: Job, decided: set[int]) -> None:
        sorted_before, job.reported = job.reported, None
        if sorted_before is not None and sorted_before[0] == self._reporting_key():
            offsets, rows, slots = sorted_before[1]
        else:  # not planned by `planning`, or the reported kinds changed meanwhile
            offsets, rows, slots = self._reported_moments(job, _rows_of(decided), 0, job.size)
        dues = offsets.astype(np.int64) + job.begin_ms
        if self.skip_through_ms >= 0:
            keep = dues > self.skip_through_ms
            slots, rows, dues = slots[keep], rows[keep], dues[keep]
        if not len(dues):
            return
        stream = _Stream(job, dues, rows, slots)
        self._push(int(stream.dues[0]), stream)

    def _schedule_one(self, job: Job, index: int, after_ms: int = -1, from_slot: int = 0) -> None:
        script = job.lives.script(index)
        version = job.versions[index]
        for slot, (offset, kind_byte, _leg, _code) in enumerate(_MOMENT.iter_unpack(script)):
            due = job.begin_ms + offset
            if slot >= from_slot and due > after_ms and self._reported(kind_byte):
                self._push(due, _One(job, index, slot, version))

    def _reported(self, kind_byte: int) -> bool:
        if kind_byte & FINAL:
            return True
        kind = kind_byte & _PLAIN
        return (kind == Kind.SEEN and self.reporting.seen) or (
            kind == Kind.LATE and self.reporting.late
        )

    # -- running ----------------------------------------------------------------------------

    def run_until(self, now_ms: int, budget: int | None = None) -> bool:
        """Report every moment due at or before `now_ms`, in time order. With a `budget`, stop
        after about that many and return False if due ones remain."""
        heap = self._heap
        done = 0
        while heap and heap[0][0] <= now_ms:
            if budget is not None and done >= budget:
                self.emitted_ms = max(self.emitted_ms, heap[0][0] - 1)
                return False
            due, _, item = heapq.heappop(heap)
            if isinstance(item, _Stream):
                done += self._emit_stream(item, due, None if budget is None else budget - done)
            else:
                done += self._emit_one(item, due)
        self.emitted_ms = max(self.emitted_ms, now_ms)
        return True

    def run_due(self) -> None:
        self.run_until(self.clock.now_ms())

    def _emit_stream(self, stream: _Stream, due: int, limit: int | None = None) -> int:
        """Report the stream's moments due at `due`: all of them, or `limit` (a job's
        thousands of moments in one millisecond are then reported over several slices)."""
        job = stream.job
        if job.removed:
            return 0
        dues, rows, slots = stream.dues, stream.rows, stream.slots
        cursor, end = stream.cursor, len(dues)
        stop = end if limit is None else min(end, cursor + max(limit, 1))
        emitted = 0
        versions = job.versions
        while cursor < stop and dues[cursor] == due:
            index = int(rows[cursor])
            if index not in versions:  # else it was rewritten: its own entries report it
                self._emit(job, index, int(slots[cursor]), due)
                emitted += 1
            cursor += 1
        stream.cursor = cursor
        if cursor < end:
            self._push(int(dues[cursor]), stream)
        return emitted

    def _emit_one(self, item: _One, due: int) -> int:
        job = item.job
        if job.removed or job.versions.get(item.index) != item.version:
            return 0
        self._emit(job, item.index, item.slot, due)
        return 1

    def _emit(self, job: Job, index: int, slot: int, due: int) -> None:
        script = job.lives.script(index)
        _offset, kind_byte, leg, code = _MOMENT.unpack_from(script, slot * _MOMENT.size)
        kind = KIND_OF_BYTE[kind_byte]
        assert kind is not None
        message = message_at(job, index, due)
        happening = Happening(message, kind, bool(kind_byte & FINAL), leg, code, due)
        for listener in self.listeners:
            listener(happening)

    def _push(self, due_ms: int, item: _Stream | _One) -> None:
        heapq.heappush(self._heap, (due_ms, next(self._seq), item))

    def _notify(self) -> None:
        if self.on_schedule is not None:
            self.on_schedule()
        if self.on_change is not None:
            self.on_change()
