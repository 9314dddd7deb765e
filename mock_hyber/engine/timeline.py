"""A message's life as a compact script of moments, and the view of it at a point in its life.

The planner decides each message's whole life up front; `compile_script` turns that plan into a
byte string of moments (10 bytes each) ordered in time. The engine walks the script one moment
at a time (`Message.step` counts the moments that have happened). Every report is derived from
the moments that have happened, so the stored state per message stays small and a rerun with
the same plan gives the same reports byte for byte.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from mock_hyber.model import Kind

_MOMENT = struct.Struct("<IBBI")  # offset ms from the job's start, kind|FINAL, leg index, code
MOMENT_SIZE = _MOMENT.size
FINAL = 0x80


DELIVERIES = (Kind.DELIVERED, Kind.LATE)
LEG_ENDS = (Kind.DELIVERED, Kind.EXPIRED, Kind.FAILED)


@dataclass(frozen=True, slots=True)
class Moment:
    offset_ms: int
    kind: Kind
    leg: int
    code: int
    final: bool = False

    def pack(self) -> bytes:
        return _MOMENT.pack(
            self.offset_ms, self.kind | (FINAL if self.final else 0), self.leg, self.code
        )


def unpack(script: bytes, index: int) -> Moment:
    offset, kind, leg, code = _MOMENT.unpack_from(script, index * MOMENT_SIZE)
    return Moment(offset, Kind(kind & ~FINAL), leg, code, bool(kind & FINAL))


def raw_moment(script: bytes, index: int) -> tuple[int, int, int, int]:
    """(offset_ms, kind byte with the FINAL bit, leg, code): the engine's fast path."""
    return _MOMENT.unpack_from(script, index * MOMENT_SIZE)


def moment_count(script: bytes) -> int:
    return len(script) // MOMENT_SIZE


def moments(script: bytes, upto: int | None = None) -> Iterator[Moment]:
    count = moment_count(script) if upto is None else min(upto, moment_count(script))
    for index in range(count):
        yield unpack(script, index)


def pack_script(items: Sequence[Moment]) -> bytes:
    return b"".join(moment.pack() for moment in items)


# -- the view of a message at a point in its life -------------------------------------------


@dataclass(slots=True)
class LegView:
    channel: str
    ttl: int
    started_ms: int
    code: int
    ended_ms: int | None = None
    delivered: bool = False


@dataclass(slots=True)
class MessageView:
    """What has happened to a message so far: its legs, final outcome, seen and clicks."""

    updated_ms: int  # when the reported status last changed (see _moves_time)
    legs: list[LegView] = field(default_factory=list)
    final_code: int | None = None
    final_kind: Kind | None = None
    final_leg: int | None = None  # index into `legs`, None when blocked
    final_ms: int | None = None
    seen: bool = False
    clicks: int = 0

    @property
    def delivered_leg(self) -> LegView | None:
        if self.final_kind in DELIVERIES and self.final_leg is not None:
            return self.legs[self.final_leg]
        return None


def _moves_time(result: MessageView, moment: Moment, legs: dict[int, int]) -> bool:
    """Whether a moment changes the reported status, and so the report's `time`: once the
    message is final, only a seen/read of the settling leg does (a late delivery on an earlier
    leg and clicks leave the final status, and its time, as they were)."""
    if result.final_kind is None:
        return True
    return moment.kind is Kind.SEEN and legs.get(moment.leg) == result.final_leg


def view(
    script: bytes | None,
    step: int,
    begin_ms: int,
    created_ms: int,
    channels: Sequence[str],
    ttls: Sequence[int],
) -> MessageView:
    """Replay the first `step` moments of `script` into a MessageView."""
    result = MessageView(updated_ms=created_ms)
    if not script:
        return result
    by_channel_leg: dict[int, int] = {}
    for moment in moments(script, step):
        at = begin_ms + moment.offset_ms
        if _moves_time(result, moment, by_channel_leg):
            result.updated_ms = at
        if moment.kind is Kind.BLOCKED:
            result.final_code, result.final_kind, result.final_ms = moment.code, moment.kind, at
            continue
        if moment.kind is Kind.START:
            by_channel_leg[moment.leg] = len(result.legs)
            result.legs.append(
                LegView(channels[moment.leg], ttls[moment.leg], started_ms=at, code=moment.code)
            )
            continue
        leg = result.legs[by_channel_leg[moment.leg]]
        if moment.kind in LEG_ENDS or moment.kind is Kind.LATE:
            leg.code, leg.ended_ms = moment.code, at
            leg.delivered = moment.kind in DELIVERIES
        elif moment.kind is Kind.FALLBACK:
            leg.ended_ms = at
        elif moment.kind is Kind.SEEN:
            leg.code = moment.code
            result.seen = True
        elif moment.kind is Kind.CLICK:
            result.clicks += moment.code
        if moment.final:
            result.final_code, result.final_kind = moment.code, moment.kind
            result.final_leg, result.final_ms = by_channel_leg[moment.leg], at
    if result.final_leg is not None:
        # A seen event updates the delivering leg's code; the final status follows it.
        result.final_code = result.legs[result.final_leg].code
    return result
