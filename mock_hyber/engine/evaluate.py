"""A message as of a virtual time: its planned life evaluated at that time.

Nothing is executed per message: `message_at(job, index, now_ms)` reads the job's columns and
the message's script (see engine.lives) and counts the moments that have happened by
`now_ms`. Every report, listing and callback body is built from such a snapshot.
"""

from __future__ import annotations

import struct

from mock_hyber.engine.lives import NEVER
from mock_hyber.engine.timeline import DELIVERIES, FINAL
from mock_hyber.model import Job, Kind, Message, State

_MOMENT = struct.Struct("<IBBI")
_START = int(Kind.START)
_DELIVERED_KINDS = frozenset(int(kind) for kind in DELIVERIES)


def message_at(job: Job, index: int, now_ms: int) -> Message:
    """Recipient `index` of `job` as it stands at virtual time `now_ms`."""
    message_id = job.message_id(index)
    phone = job.phone(index)
    extra_id = job.extra_id(index)
    rejection = job.rejected.get(index)
    if rejection is not None:
        return Message(
            job,
            index,
            message_id,
            phone,
            extra_id,
            accepted=False,
            state=State.REJECTED,
            error_code=rejection.code,
            error_text=rejection.text,
        )
    script = job.lives.script(index)
    elapsed = now_ms - job.begin_ms
    step = 0
    state = State.PENDING
    error_code = None
    for offset, kind_byte, _leg, code in _MOMENT.iter_unpack(script):
        if offset > elapsed:
            break
        step += 1
        kind = kind_byte & ~FINAL
        if kind == _START and state is State.PENDING:
            state = State.ACTIVE
        if kind_byte & FINAL:
            if kind in _DELIVERED_KINDS:
                state = State.DELIVERED
            else:
                state, error_code = State.FAILED, code
    return Message(
        job,
        index,
        message_id,
        phone,
        extra_id,
        accepted=True,
        state=state,
        sms_parts=int(job.sms_parts[index]),
        error_code=error_code,
        script=script,
        step=step,
    )


def ends_ms(job: Job) -> int:
    """When the job's last planned moment happens (virtual ms): after it nothing changes."""
    if job.ends_ms is None:
        offsets = job.lives.table["offset"]
        real = offsets[offsets != NEVER]
        job.ends_ms = job.begin_ms + (int(real.max()) if len(real) else 0)
    return job.ends_ms


def messages_at(job: Job, now_ms: int) -> list[Message]:
    """Every recipient of `job` as it stands at `now_ms` (inspection and tests)."""
    return [message_at(job, index, now_ms) for index in range(job.size)]
