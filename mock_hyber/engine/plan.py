"""A plan: what will happen to a message on each channel of its cascade, decided at acceptance.

`compile_plan` turns it into the timeline script the engine walks. Cascade rules:
- channels are tried in request order; each leg starts when the previous one ends;
- a leg that fails or expires (at its ttl) hands over to the next channel;
- a "late" leg reaches its ttl undelivered (the next channel starts) and delivers afterwards;
- the first delivery on any channel settles the message and stops every leg still running;
  a late leg that delivers after that is still recorded (the user gets both);
- when no channel delivers, the message fails with the last leg's code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mock_hyber.codes import Catalogue
from mock_hyber.engine.timeline import Kind, Moment, pack_script

OUTCOMES = ("delivered", "failed", "expired", "late")
SEEN_CHANNELS = ("viber", "whatsapp")


@dataclass(frozen=True, slots=True)
class LegPlan:
    outcome: str  # delivered | failed | expired | late
    after_ms: int = 0  # delivered/failed: after the leg starts; late: after its ttl
    event: str | None = None  # catalogue event of the outcome, e.g. "failed_absent"
    code: int | None = None  # an explicit hyber_status instead of the event's
    seen_after_ms: int | None = None  # after delivery (Viber and WhatsApp only)
    clicks: int = 0  # only counted when ctr is on for the channel
    clicks_after_ms: int = 0  # after delivery


@dataclass(frozen=True, slots=True)
class Plan:
    source: str  # "magic 380000000002", "scenario <name>", "profile"
    legs: tuple[LegPlan, ...] = ()
    blocked: bool = False
    blocked_after_ms: int = 0


@dataclass(frozen=True, slots=True)
class Route:
    """What the compiler needs of a message's request: channels, ttls, ctr and content."""

    channels: tuple[str, ...]
    ttls: tuple[int, ...]
    ctr: tuple[bool, ...]
    viber_template: bool = False


def _outcome_code(catalogue: Catalogue, channel: str, leg: LegPlan, route: Route) -> int:
    if leg.code is not None:
        return leg.code
    outcome = "delivered" if leg.outcome == "late" else leg.outcome
    event = leg.event or outcome
    if event == "delivered" and channel == "viber" and route.viber_template:
        event = "delivered_template"
    if not catalogue.has_event(channel, event):
        event = outcome
    return catalogue.event(channel, event).code


def compile_plan(plan: Plan, route: Route, catalogue: Catalogue) -> bytes:
    """The timeline script of `plan` for a message sent on `route`."""
    if plan.blocked:
        code = catalogue.event("hyber", "blocked").code
        return pack_script([Moment(plan.blocked_after_ms, Kind.BLOCKED, 0, code, final=True)])

    # Every moment that could happen, then a walk in time order that applies the cascade rules.
    candidates: list[tuple[int, int, Moment]] = []
    order = 0

    def add(at: int, kind: Kind, leg: int, code: int = 0) -> None:
        nonlocal order
        candidates.append((at, order, Moment(at, kind, leg, code)))
        order += 1

    def after_delivery(index: int, channel: str, leg: LegPlan, delivered_at: int) -> None:
        if leg.seen_after_ms is not None and channel in SEEN_CHANNELS:
            add(
                delivered_at + leg.seen_after_ms,
                Kind.SEEN,
                index,
                catalogue.event(channel, "seen").code,
            )
        if leg.clicks and route.ctr[index]:
            add(delivered_at + leg.clicks_after_ms, Kind.CLICK, index, leg.clicks)

    legs = _legs_for(plan, route)
    started = 0
    for index, (channel, leg) in enumerate(zip(route.channels, legs, strict=False)):
        ttl_ms = route.ttls[index] * 1000
        add(started, Kind.START, index, catalogue.event(channel, "sent").code)
        code = _outcome_code(catalogue, channel, leg, route)
        if leg.outcome == "delivered":
            at = started + min(leg.after_ms, ttl_ms)
            add(at, Kind.DELIVERED, index, code)
            after_delivery(index, channel, leg, at)
            break
        if leg.outcome == "failed":
            started += min(leg.after_ms, ttl_ms)
            add(started, Kind.FAILED, index, code)
        elif leg.outcome == "expired":
            started += ttl_ms
            add(started, Kind.EXPIRED, index, code)
        else:  # late
            add(started + ttl_ms, Kind.FALLBACK, index)
            at = started + ttl_ms + max(1, leg.after_ms)
            add(at, Kind.LATE, index, code)
            after_delivery(index, channel, leg, at)
            started += ttl_ms
    return pack_script(_apply_cascade(candidates, len(legs)))


def _legs_for(plan: Plan, route: Route) -> Sequence[LegPlan]:
    legs = list(plan.legs[: len(route.channels)])
    if len(legs) < len(route.channels):
        raise ValueError("a plan needs one leg per channel")
    return legs


def _apply_cascade(candidates: list[tuple[int, int, Moment]], leg_count: int) -> list[Moment]:
    candidates.sort(key=lambda item: (item[0], item[1]))
    result: list[Moment] = []
    settled = False
    delivered_legs: set[int] = set()  # their seen and clicks still happen once settled
    late_pending: set[int] = set()
    for _, _, moment in candidates:
        leg, kind = moment.leg, moment.kind
        if settled:
            # Every other leg was stopped; only late deliveries, seen and clicks remain.
            if kind is Kind.LATE and leg in late_pending:
                late_pending.discard(leg)
                delivered_legs.add(leg)
                result.append(moment)
            elif kind in (Kind.SEEN, Kind.CLICK) and leg in delivered_legs:
                result.append(moment)
            continue
        if kind is Kind.FALLBACK:
            late_pending.add(leg)
        elif kind in (Kind.DELIVERED, Kind.LATE):
            settled = True
            late_pending.discard(leg)
            delivered_legs.add(leg)
            moment = _final(moment)
        elif kind in (Kind.FAILED, Kind.EXPIRED) and leg == leg_count - 1 and not late_pending:
            settled = True
            moment = _final(moment)
        result.append(moment)
    return result


def _final(moment: Moment) -> Moment:
    return Moment(moment.offset_ms, moment.kind, moment.leg, moment.code, final=True)
