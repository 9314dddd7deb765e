"""The outcome planner: magic numbers, then scenario rules, then the seeded random profile.

A Planner is an immutable snapshot; each job keeps the one in force when it was accepted, so
uploading new scenarios never changes a message that was already accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mock_hyber.codes import Catalogue
from mock_hyber.engine.plan import LegPlan, Plan, Route, compile_plan
from mock_hyber.engine.profile import Draws, Profile
from mock_hyber.engine.rules import CompiledRule, MagicNumber, Rule
from mock_hyber.model import Job, Message

TEMPLATE_EXCLUDES = ("img", "action", "caption", "file_name", "thumbnail")


def route_of(job: Job) -> Route:
    options = job.channel_options
    viber = options.get("viber")
    return Route(
        channels=job.channels,
        ttls=tuple(int(options[channel]["ttl"]) for channel in job.channels),
        ctr=tuple(bool(options[channel].get("ctr")) for channel in job.channels),
        # A Viber message of text only is taken as a template message (hyber_status 23043).
        viber_template=viber is not None and not any(viber.get(k) for k in TEMPLATE_EXCLUDES),
    )


class Planner:
    def __init__(
        self,
        catalogue: Catalogue,
        profile: Profile,
        magic: Sequence[MagicNumber],
        rules: Sequence[Rule],
        key: bytes,
    ) -> None:
        self.catalogue = catalogue
        self.profile = profile
        self.magic = {number.phone: number for number in magic}
        self.rules = [CompiledRule(rule) for rule in rules]
        self._key = key
        self._rejecting = [rule for rule in self.rules if rule.rule.reject is not None]

    def with_rules(self, rules: Sequence[Rule], profile: Profile | None = None) -> Planner:
        magic = list(self.magic.values())
        return Planner(self.catalogue, profile or self.profile, magic, rules, self._key)

    # -- decisions ------------------------------------------------------------------------

    def rule_for(self, message: Message) -> tuple[str, Rule] | None:
        magic = self.magic.get(message.phone)
        if magic is not None:
            return f"magic {magic.phone}", magic
        job = message.job
        for compiled in self.rules:
            if compiled.matches(message.phone, message.extra_id, job.tag, job.channels):
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

    def plan(self, message: Message, route: Route) -> Plan:
        chosen = self.rule_for(message)
        draws = Draws(message.message_id, self._key)
        if chosen is None:
            legs = tuple(self.profile.channel(ch).leg(draws) for ch in route.channels)
            return Plan("profile", legs)
        source, rule = chosen
        if rule.blocked:
            return Plan(source, blocked=True, blocked_after_ms=int(rule.blocked_after * 1000))
        legs_list: list[LegPlan] = []
        for position, channel in enumerate(route.channels):
            spec = rule.leg_spec(position, channel)
            if spec is None:
                legs_list.append(self.profile.channel(channel).leg(draws))
            else:
                legs_list.append(spec.to_leg())
        return Plan(source, tuple(legs_list))

    def script(self, message: Message, route: Route) -> bytes:
        return compile_plan(self.plan(message, route), route, self.catalogue)

    def describe(self) -> dict[str, Any]:
        return {
            "rules": [compiled.rule.model_dump(exclude_defaults=True) for compiled in self.rules],
            "profile": self.profile.model_dump(),
        }
