"""The outcome planner: magic numbers, then scenario rules, then the seeded random profile.

A Planner is an immutable snapshot; each job keeps the one in force when it was accepted, so
uploading new scenarios never changes a message that was already accepted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any

import numpy as np

from mock_hyber.codes import Catalogue
from mock_hyber.engine.lives import LegColumns, Lives, compile_lives, draw_legs, job_rng
from mock_hyber.engine.plan import OUTCOMES, LegPlan, Plan, Route, compile_plan
from mock_hyber.engine.profile import Draws, Profile
from mock_hyber.engine.rules import CompiledRule, MagicNumber, Rule
from mock_hyber.model import Job
from mock_hyber.slicing import at_once

SMALL_JOB = 16  # up to this many messages, plan one by one: numpy's per-call cost dominates
# Messages drawn at a time: part of the plan's definition, since a job's one generator draws
# each slice's columns in turn (a different slice gives different draws for the same seed).
PLAN_SLICE = 10_000
COMPILE_SLICE = 2_500  # messages compiled at a time (about a millisecond); any size, same plans
TEMPLATE_EXCLUDES = ("img", "action", "caption", "file_name", "thumbnail")


def route_of(job: Job) -> Route:
    options = job.channel_options
    viber = options.get("viber")
    return Route(
        channels=job.channels,
        ttls=tuple(int(options[channel]["ttl"]) for channel in job.channels),
        ctr=tuple(bool(options[channel].get("ctr")) for channel in job.channels),
        # A Viber message of text only is matched against the account's templates (when it
        # has any): 23043 for a match, 23033 otherwise (engine/viber_templates.py).
        viber_template=bool(job.viber_registry)
        and viber is not None
        and not any(viber.get(k) for k in TEMPLATE_EXCLUDES),
    )


class Planner:
    def __init__(
        self,
        catalogue: Catalogue,
        profile: Profile,
        magic: Sequence[MagicNumber],
        rules: Sequence[Rule],
    ) -> None:
        self.catalogue = catalogue
        self.profile = profile
        self.magic = {number.phone: number for number in magic}
        self._magic_numbers = np.array([int(phone) for phone in self.magic], np.int64)
        self.rules = [CompiledRule(rule) for rule in rules]
        self._rejecting = [rule for rule in self.rules if rule.rule.reject is not None]

    def with_rules(self, rules: Sequence[Rule], profile: Profile | None = None) -> Planner:
        magic = list(self.magic.values())
        return Planner(self.catalogue, profile or self.profile, magic, rules)

    # -- decisions ------------------------------------------------------------------------

    def rule_for(
        self, phone: str, extra_id: str | None, tag: str | None, channels: tuple[str, ...]
    ) -> tuple[str, Rule] | None:
        """The magic number or the first scenario rule that decides this message, if any."""
        magic = self.magic.get(phone)
        if magic is not None:
            return f"magic {magic.phone}", magic
        for compiled in self.rules:
            if compiled.matches(phone, extra_id, tag, channels):
                return f"scenario {compiled.rule.name or '(unnamed)'}", compiled.rule
        return None

    def rejection(
        self, phone: str, extra_id: str | None, tag: str | None, channels: tuple[str, ...]
    ) -> int | None:
        """The error code refusing this recipient at acceptance, if a rule says so."""
        magic = self.magic.get(phone)
        if magic is not None:
            return magic.reject
        if not self._rejecting:
            return None  # the common case: no rule rejects, no need to match any
        for compiled in self.rules:
            if compiled.matches(phone, extra_id, tag, channels):
                return compiled.rule.reject  # the first matching rule decides
        return None

    def source(self, job: Job, index: int) -> str:
        """Where message `index`'s plan comes from: a magic number, a rule, or the profile."""
        chosen = self.rule_for(
            job.phone(index), job.extra_id(index), job.top(index, "tag"), job.channels
        )
        return chosen[0] if chosen else "profile"

    def lives(self, job: Job, seed: int) -> tuple[Lives, set[int]]:
        """Every message's planned life, and the indexes decided one by one (magic numbers,
        rules, rejected). The profile's draws come from the job's own generator, so the plan
        is a pure function of the seed, the account, the job's number and the request."""
        return at_once(self.lives_in_slices(job, seed))

    def lives_in_slices(self, job: Job, seed: int) -> Generator[None, None, tuple[Lives, set[int]]]:
        """`lives`, yielding after each slice of work (about a millisecond): every PLAN_SLICE
        messages drawn, every COMPILE_SLICE compiled (the same plans either way)."""
        if job.size <= SMALL_JOB:
            return self._unmatched_templates(job, *self._small_lives(job, seed))
        route = job.route
        rng = job_rng(seed, job.client_id, job.number)
        parts: list[Lives] = []
        drawn: list[LegColumns] = []
        for start in range(0, job.size, PLAN_SLICE):
            legs = draw_legs(
                self.profile, route, min(PLAN_SLICE, job.size - start), rng, self.catalogue
            )
            drawn.append(legs)
            yield
            for first in range(0, legs.n, COMPILE_SLICE):
                part = legs.columns(first, first + COMPILE_SLICE)
                parts.append(compile_lives(part, route, self.catalogue))
                yield
        lives = yield from Lives.joining(parts)
        decided: dict[int, bytes] = dict.fromkeys(job.rejected, b"")  # no life at all
        closed = session_closed(job)
        session_leg = _session_leg(route)
        for index in self._candidates(job):
            if index in decided:
                continue
            phone = str(int(job.phones[index]))
            chosen = self.rule_for(phone, job.extra_id(index), job.top(index, "tag"), job.channels)
            if chosen is not None:
                legs, row = drawn[index // PLAN_SLICE], index % PLAN_SLICE
                pick = _outside_session(
                    lambda leg, c=legs, i=row: _drawn(c, leg, i),
                    session_leg if closed is not None and closed[index] else None,
                )
                plan = self._plan(chosen, pick, route)
                decided[index] = compile_plan(plan, route, self.catalogue)
        if closed is not None:
            # WhatsApp session messages outside a session fail on WhatsApp and cascade.
            for index in np.flatnonzero(closed).tolist():
                if index in decided:
                    continue
                legs, row = drawn[index // PLAN_SLICE], index % PLAN_SLICE
                pick = _outside_session(lambda leg, c=legs, i=row: _drawn(c, leg, i), session_leg)
                plan = Plan("whatsapp session closed", tuple(map(pick, range(len(route.channels)))))
                decided[index] = compile_plan(plan, route, self.catalogue)
        if decided:
            lives.set_scripts(list(decided), list(decided.values()))
        return self._unmatched_templates(job, lives, set(decided))

    def _unmatched_templates(
        self, job: Job, lives: Lives, decided: set[int]
    ) -> tuple[Lives, set[int]]:
        """A Viber delivery of a text no registered template matches is an ordinary one."""
        route = job.route
        if route is None or not route.viber_template:
            return lives, decided
        unmatched = np.flatnonzero(job.viber_template_ids() == 0)
        if len(unmatched):
            template = self.catalogue.event("viber", "delivered_template").code
            plain = self.catalogue.event("viber", "delivered").code
            lives.recode(unmatched, route.channels.index("viber"), template, plain)
        return lives, decided

    def _small_lives(self, job: Job, seed: int) -> tuple[Lives, set[int]]:
        """The same plans, drawn and compiled one message at a time (the profile's scalar
        draws, keyed by seed, account, job number and index)."""
        route = job.route
        key = hashlib.blake2b(
            f"{seed}/{job.client_id}/{job.number}".encode(), digest_size=32
        ).digest()
        channels = [self.profile.channel(channel) for channel in route.channels]
        scripts: list[bytes] = []
        decided = set(job.rejected)
        closed = session_closed(job)
        session_leg = _session_leg(route)
        for index in range(job.size):
            if index in decided:
                scripts.append(b"")  # rejected: no life at all
                continue
            draws = Draws(str(index), key)
            drawn = [channel.leg(draws) for channel in channels]
            phone = str(int(job.phones[index]))
            chosen = self.rule_for(phone, job.extra_id(index), job.top(index, "tag"), job.channels)
            outside = closed is not None and bool(closed[index])
            pick = _outside_session(drawn.__getitem__, session_leg if outside else None)
            if chosen is None and not outside:
                plan = Plan("profile", tuple(drawn))
            elif chosen is None:
                plan = Plan("whatsapp session closed", tuple(map(pick, range(len(drawn)))))
                decided.add(index)
            else:
                plan = self._plan(chosen, pick, route)
                decided.add(index)
            scripts.append(compile_plan(plan, route, self.catalogue))
        return Lives.from_scripts(scripts), decided

    def _candidates(self, job: Job) -> Iterable[int]:
        """Messages a magic number or a rule may decide (all of them when there are rules)."""
        if self.rules:
            return range(job.size)
        return np.flatnonzero(np.isin(job.phones, self._magic_numbers)).tolist()

    def _plan(
        self, chosen: tuple[str, Rule], drawn: Callable[[int], LegPlan], route: Route
    ) -> Plan:
        source, rule = chosen
        if rule.blocked:
            return Plan(source, blocked=True, blocked_after_ms=int(rule.blocked_after * 1000))
        planned: list[LegPlan] = []
        for position, channel in enumerate(route.channels):
            spec = rule.leg_spec(position, channel)
            planned.append(spec.to_leg() if spec is not None else drawn(position))
        return Plan(source, tuple(planned))

    def describe(self) -> dict[str, Any]:
        return {
            "rules": [compiled.rule.model_dump(exclude_defaults=True) for compiled in self.rules],
            "profile": self.profile.model_dump(),
        }


# -- WhatsApp sessions ------------------------------------------------------------------------

SESSION_HOURS = 24  # documented: session messages only within 24 h of the user's last message
SESSION_MS = SESSION_HOURS * 3600 * 1000
SESSION_MAGIC = 380000000009  # always in a session
SESSION_FAILS_AFTER_MS = 1000
# A WhatsApp message with any of these is a session message; text only is a template's shape.
SESSION_FIELDS = ("img", "doc", "audio", "video", "latitude", "longitude")
_CLOSED = LegPlan("failed", after_ms=SESSION_FAILS_AFTER_MS, event="failed_no_session")


def is_session_message(job: Job) -> bool:
    whatsapp = job.channel_options.get("whatsapp") if "whatsapp" in job.channels else None
    return whatsapp is not None and any(whatsapp.get(name) for name in SESSION_FIELDS)


def session_closed(job: Job) -> Any:
    """Which messages are WhatsApp session messages to a number without an open session when
    the job begins (numpy bools), or None when none can be: the sessions of the account when
    the job was accepted (`job.whatsapp_sessions`, phone -> last user message, ms; None when
    every number is taken to be in a session)."""
    sessions = job.whatsapp_sessions
    if sessions is None or not is_session_message(job):
        return None
    begin = job.begin_ms
    open_phones = [int(p) for p, last in sessions.items() if last <= begin < last + SESSION_MS]
    open_phones.append(SESSION_MAGIC)
    closed = ~np.isin(job.phones, np.array(open_phones, np.int64))
    return closed if closed.any() else None


def _session_leg(route: Route) -> int | None:
    return route.channels.index("whatsapp") if "whatsapp" in route.channels else None


def _outside_session(drawn: Callable[[int], LegPlan], leg: int | None) -> Callable[[int], LegPlan]:
    """`drawn`, with the WhatsApp leg failing for want of a session (when `leg` is given)."""
    if leg is None:
        return drawn
    return lambda position: _CLOSED if position == leg else drawn(position)


def _drawn(legs: LegColumns, position: int, index: int) -> LegPlan:
    """The profile's decision for one leg of one message, as a LegPlan."""
    seen = int(legs.seen_after_ms[position, index])
    return LegPlan(
        outcome=OUTCOMES[int(legs.outcome[position, index])],
        after_ms=int(legs.after_ms[position, index]),
        code=int(legs.code[position, index]),
        seen_after_ms=None if seen < 0 else seen,
        clicks=int(legs.clicks[position, index]),
        clicks_after_ms=int(legs.clicks_after_ms[position, index]),
    )
