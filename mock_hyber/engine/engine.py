"""The simulation engine of one account: a heap of due moments on the account's virtual clock.

No task or sleep per message: the heap holds `(due_ms, seq, target, step)` entries, one per
job waiting to start and one per message for its next moment. `run_until(now)` pops every due
entry in time order; each message moment schedules the message's next one. Cancellation is
lazy: an entry whose `step` no longer matches the message's is skipped.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

from mock_hyber.engine.clock import VirtualClock
from mock_hyber.engine.planner import Planner, route_of
from mock_hyber.engine.timeline import FINAL, MOMENT_SIZE, raw_moment
from mock_hyber.model import Happening, Job, Kind, Message, State

# Kind of each moment byte (with or without the FINAL bit): a lookup, not an enum call.
KIND_OF_BYTE = tuple(
    Kind(b & ~FINAL) if (b & ~FINAL) in Kind._value2member_map_ else None for b in range(256)
)
JOB_SLICE = 2000  # messages planned per heap entry when a job starts; keeps the loop responsive
_DELIVERED = (Kind.DELIVERED, Kind.LATE)


Listener = Callable[[Happening], None]


class AccountEngine:
    def __init__(self, clock: VirtualClock, planner: Planner) -> None:
        self.clock = clock
        self.planner = planner
        self._heap: list[tuple[int, int, Job | Message, int]] = []
        self._seq = itertools.count()
        self.listeners: list[Listener] = []
        self.on_schedule: Callable[[], None] | None = None  # wakes the real-time runner
        self.on_change: Callable[[], None] | None = None  # wakes long-polls

    def reset(self, clock: VirtualClock, planner: Planner) -> None:
        """Drop every pending entry; keep listeners and the runner's wake-up."""
        self.clock = clock
        self.planner = planner
        self._heap.clear()
        if self.on_schedule is not None:
            self.on_schedule()

    def __len__(self) -> int:
        return len(self._heap)

    def admit(self, job: Job, plan_now: bool = False) -> None:
        """Queue a job's start. Its messages are planned when it starts (the plan depends only
        on the message id, seed and planner snapshot, so it is fixed at acceptance) or, with
        `plan_now` (persistence: the plans are stored with the messages), right away."""
        job.planner = self.planner
        job.route = route_of(job)
        job.begin_ms = max(job.created_ms, job.start_ms or 0)
        if plan_now:
            for message in job.messages:
                if message.accepted and message.script is None:
                    message.script = self.planner.script(message, job.route)
                    self._push(job.begin_ms + raw_moment(message.script, 0)[0], message, 0)
        else:
            self._push(job.begin_ms, job, -1)
        if self.on_schedule is not None:
            self.on_schedule()
        if self.on_change is not None:
            self.on_change()

    def next_due_ms(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def run_until(self, now_ms: int, budget: int | None = None) -> bool:
        """Run every entry due at or before `now_ms`, in time order. With a `budget`, stop
        after about that many messages and return False if due work remains."""
        heap = self._heap
        done = 0
        try:
            while heap and heap[0][0] <= now_ms:
                if budget is not None and done >= budget:
                    return False
                due, _, target, step = heapq.heappop(heap)
                if step < 0:
                    assert isinstance(target, Job)
                    done += self._start_job(target, -1 - step, due)
                else:
                    assert isinstance(target, Message)
                    self._advance(target, step)
                    done += 1
            return True
        finally:
            if done and self.on_change is not None:
                self.on_change()

    def run_due(self) -> None:
        self.run_until(self.clock.now_ms())

    def reschedule(self, message: Message) -> None:
        """Queue a message's next moment: after its script was rewritten (a forced
        transition), or when it is restored from storage."""
        self._schedule_next(message)

    # -- moments --------------------------------------------------------------------------

    def _push(self, due_ms: int, target: Job | Message, step: int) -> None:
        heapq.heappush(self._heap, (due_ms, next(self._seq), target, step))

    def _start_job(self, job: Job, cursor: int, due_ms: int) -> int:
        end = min(cursor + JOB_SLICE, len(job.messages))
        planner, route = job.planner, job.route
        for message in job.messages[cursor:end]:
            if message.accepted and message.script is None:
                message.script = planner.script(message, route)
                first = job.begin_ms + raw_moment(message.script, 0)[0]
                if first <= due_ms:
                    self._advance(message, 0)
                else:  # e.g. a rule's blocked_after
                    self._push(first, message, 0)
        if end < len(job.messages):
            self._push(due_ms, job, -1 - end)
        return end - cursor

    def _advance(self, message: Message, step: int) -> None:
        """Apply moment `step`, and the moments after it that fall on the same instant."""
        script = message.script
        if script is None or message.step != step:
            return  # a stale heap entry
        begin = message.job.begin_ms
        count = len(script) // MOMENT_SIZE
        offset, kind_byte, leg, code = raw_moment(script, step)
        while True:
            message.step = step + 1
            kind = KIND_OF_BYTE[kind_byte]
            final = bool(kind_byte & FINAL)
            if kind is Kind.START and message.state is State.PENDING:
                message.state = State.ACTIVE
            if final:
                if kind in _DELIVERED:
                    message.state = State.DELIVERED
                else:
                    message.state = State.FAILED
                    message.error_code = code
            if self.listeners:
                happening = Happening(message, kind, final, leg, code, begin + offset)
                for listener in self.listeners:
                    listener(happening)
            step += 1
            if step >= count:
                return
            next_offset, kind_byte, leg, code = raw_moment(script, step)
            if next_offset != offset:
                self._push(begin + next_offset, message, step)
                return
            offset = next_offset

    def _schedule_next(self, message: Message) -> None:
        script = message.script
        if script is None or message.step >= len(script) // MOMENT_SIZE:
            return
        offset = raw_moment(script, message.step)[0]
        self._push(message.job.begin_ms + offset, message, message.step)
        if self.on_schedule is not None:
            self.on_schedule()
