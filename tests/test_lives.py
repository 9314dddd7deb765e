"""engine/lives: the vectorized draws and compiler against the scalar compile_plan, and the
evaluators against a replay of each script."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_hyber.codes import builtin_catalogue as default_catalogue
from mock_hyber.engine.lives import (
    ACTIVE,
    DELIVERED,
    FAILED,
    O_DELIVERED,
    O_EXPIRED,
    O_FAILED,
    O_LATE,
    PENDING,
    LegColumns,
    Lives,
    compile_lives,
    draw_legs,
    job_rng,
)
from mock_hyber.engine.plan import OUTCOMES, LegPlan, Plan, Route, compile_plan
from mock_hyber.engine.profile import load_profile
from mock_hyber.engine.timeline import DELIVERIES, Moment, moments, pack_script, view
from mock_hyber.model import Kind, State

CATALOGUE = default_catalogue()
PROFILE = load_profile()
CHANNELS = ("sms", "viber", "whatsapp", "push")
TTL = {"push": 30, "viber": 60, "sms": 300, "whatsapp": 120}


def route_of(channels: Sequence[str], ctr: bool = True, template: bool = True) -> Route:
    return Route(tuple(channels), tuple(TTL[c] for c in channels), (ctr,) * len(channels), template)


# -- strategies --------------------------------------------------------------------------------

# Small times and ttls make ties (same offset, different moments) frequent: the sort's tie-break
# by generation order is the hard part of the equality.
times_ms = st.one_of(
    st.sampled_from([0, 1, 999, 1000, 1001, 2000, 3000]), st.integers(0, 4_000_000)
)
ttls = st.one_of(st.integers(0, 3), st.sampled_from([30, 60, 3600]))

leg_plans = st.builds(
    LegPlan,
    outcome=st.sampled_from(OUTCOMES),
    after_ms=times_ms,
    event=st.sampled_from([None, "failed", "failed_absent", "failed_device", "no_such_event"]),
    code=st.one_of(st.none(), st.none(), st.integers(0, 2**32 - 1)),
    seen_after_ms=st.one_of(st.none(), times_ms),
    clicks=st.one_of(st.just(0), st.integers(1, 5)),
    clicks_after_ms=times_ms,
)


@st.composite
def routes(draw: st.DrawFn) -> Route:
    count = draw(st.integers(1, 4))
    channels = draw(st.permutations(CHANNELS))[:count]
    return Route(
        channels=tuple(channels),
        ttls=tuple(draw(ttls) for _ in channels),
        ctr=tuple(draw(st.booleans()) for _ in channels),
        viber_template=draw(st.booleans()),
    )


@st.composite
def jobs(draw: st.DrawFn) -> tuple[Route, list[list[LegPlan]]]:
    route = draw(routes())
    legs = st.lists(leg_plans, min_size=len(route.channels), max_size=len(route.channels))
    return route, draw(st.lists(legs, min_size=1, max_size=40))


def scalar(plans: Sequence[Sequence[LegPlan]], route: Route) -> list[bytes]:
    return [compile_plan(Plan("profile", tuple(legs)), route, CATALOGUE) for legs in plans]


# -- (a) the compiler is compile_plan ------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(jobs())
def test_compile_lives_is_compile_plan_for_every_message(job: tuple[Route, list]) -> None:
    route, plans = job
    lives = compile_lives(LegColumns.from_plans(plans, route, CATALOGUE), route, CATALOGUE)
    assert lives.n == len(plans)
    for i, expected in enumerate(scalar(plans, route)):
        assert lives.script(i) == expected, (i, plans[i])
    # Trimmed: the widest row is exactly as wide as the table.
    assert lives.width == max(len(s) for s in scalar(plans, route)) // 10


def test_compile_lives_ties_and_late_after_settled() -> None:
    # Hand-picked corners: a late leg delivering after the next leg delivered (kept, not final),
    # a late leg whose fallback comes after the cascade settled (dropped with its seen/clicks),
    # events at the same instant as the start, ttl 0.
    route = Route(("viber", "whatsapp", "sms"), (1, 0, 2), (True, True, True), True)
    plans = [
        [
            LegPlan("late", 5000, seen_after_ms=0, clicks=2),
            LegPlan("late", 0),
            LegPlan("delivered"),
        ],
        [LegPlan("failed", 0), LegPlan("delivered", 0, seen_after_ms=0), LegPlan("expired")],
        [LegPlan("expired"), LegPlan("expired"), LegPlan("late", 1, clicks=1)],
        [LegPlan("late", 0), LegPlan("failed", 7), LegPlan("failed", 1)],
    ]
    lives = compile_lives(LegColumns.from_plans(plans, route, CATALOGUE), route, CATALOGUE)
    assert [lives.script(i) for i in range(len(plans))] == scalar(plans, route)


def test_compile_lives_of_no_messages() -> None:
    route = route_of(("viber", "sms"))
    lives = compile_lives(LegColumns.from_plans([], route, CATALOGUE), route, CATALOGUE)
    assert lives.n == 0
    assert lives.counts_at(10**6) == {PENDING: 0, ACTIVE: 0, DELIVERED: 0, FAILED: 0}


# -- (b) the draws -------------------------------------------------------------------------------


def test_job_rng_is_deterministic_per_seed_account_and_job() -> None:
    route = route_of(("viber", "sms"))

    def draw(seed: int, client: str, job: int) -> LegColumns:
        return draw_legs(PROFILE, route, 1000, job_rng(seed, client, job), CATALOGUE)

    first, again = draw(7, "1001", 3), draw(7, "1001", 3)
    for name in LegColumns.__slots__:
        assert np.array_equal(getattr(first, name), getattr(again, name)), name
    for other in (draw(7, "1001", 4), draw(8, "1001", 3), draw(7, "1002", 3)):
        assert not np.array_equal(first.after_ms, other.after_ms)
    # Stable across processes: no salted hash() in the seed.
    assert job_rng(7, "1001", 3).integers(0, 2**62) == 1052031380390400574


@pytest.mark.parametrize("channel", CHANNELS)
def test_draws_follow_the_profile(channel: str) -> None:
    n = 200_000
    route = route_of((channel,), ctr=True)
    legs = draw_legs(PROFILE, route, n, job_rng(1, "c", 1), CATALOGUE)
    chosen = PROFILE.channel(channel)
    outcome = legs.outcome[0]
    total = sum(chosen.outcomes.values())
    for name in OUTCOMES:
        expected = chosen.outcomes.get(name, 0.0) / total
        assert abs(np.mean(outcome == OUTCOMES.index(name)) - expected) < 0.005, name

    failed = outcome == O_FAILED
    events_total = sum(chosen.failure_events.values())
    for event, weight in chosen.failure_events.items():
        code = CATALOGUE.event(channel, event).code
        share = np.mean(legs.code[0][failed] == code)
        assert abs(share - weight / events_total) < 0.03, event

    for mask, delay in (
        (outcome == O_DELIVERED, chosen.delivery_delay),
        (failed, chosen.failure_delay),
        (outcome == O_LATE, chosen.late_delay),
    ):
        after = legs.after_ms[0][mask]
        if after.size:
            assert after.min() >= delay.min * 1000 and after.max() <= delay.max * 1000
    if (outcome == O_DELIVERED).any():
        median = np.median(legs.after_ms[0][outcome == O_DELIVERED])
        assert abs(median / (chosen.delivery_delay.median * 1000) - 1) < 0.03
    assert (legs.after_ms[0][outcome == O_EXPIRED] == 0).all()

    delivering = (outcome == O_DELIVERED) | (outcome == O_LATE)
    seen = legs.seen_after_ms[0]
    assert (seen[~delivering] == -1).all()
    if chosen.seen is not None and channel in ("viber", "whatsapp"):
        assert abs(np.mean(seen[delivering] >= 0) - chosen.seen.probability) < 0.01
        has = seen >= 0
        assert seen[has].min() >= chosen.seen.delay.min * 1000
        assert seen[has].max() <= chosen.seen.delay.max * 1000
    else:
        assert (seen == -1).all()
    clicks = legs.clicks[0]
    assert (clicks[~delivering] == 0).all()
    if chosen.clicks is not None:
        assert abs(np.mean(clicks[delivering] > 0) - chosen.clicks.probability) < 0.01
        assert clicks.max() == chosen.clicks.max and clicks[clicks > 0].min() == 1

    # Compiled, a delivery never takes longer than the ttl: the draw is cut to it.
    lives = compile_lives(legs, route, CATALOGUE)
    delivered = lives.final_kind == Kind.DELIVERED
    assert (lives.final_ms[delivered] <= TTL[channel] * 1000).all()
    expired = lives.final_kind == Kind.EXPIRED
    assert (lives.final_ms[expired] == TTL[channel] * 1000).all()


def test_drawn_lives_are_compile_plan_of_the_drawn_legs() -> None:
    route = route_of(("viber", "whatsapp", "push", "sms"), template=True)
    legs = draw_legs(PROFILE, route, 3000, job_rng(3, "1001", 9), CATALOGUE)
    lives = compile_lives(legs, route, CATALOGUE)
    for i in range(legs.n):
        plan = []
        for j in range(legs.legs):
            seen = int(legs.seen_after_ms[j, i])
            leg = LegPlan(
                OUTCOMES[legs.outcome[j, i]],
                int(legs.after_ms[j, i]),
                code=int(legs.code[j, i]),
                seen_after_ms=None if seen < 0 else seen,
                clicks=int(legs.clicks[j, i]),
                clicks_after_ms=int(legs.clicks_after_ms[j, i]),
            )
            plan.append(leg)
        assert lives.script(i) == scalar([plan], route)[0]
    # Viber deliveries of a template route report the template code.
    viber_delivered = (lives.final_kind == Kind.DELIVERED) & (lives.final_leg == 0)
    assert (lives.final_code[viber_delivered] == 23043).all() and viber_delivered.any()


# -- (c) the evaluators --------------------------------------------------------------------------


def replay(script: bytes, t: int) -> tuple[int, int, int]:
    """(steps, state, updated) at offset t by walking the script as the engine does."""
    steps, state, updated, final_leg = 0, PENDING, -1, None
    for moment in moments(script):
        if moment.offset_ms > t:
            break
        steps += 1
        # Once final, only a seen/read of the final leg changes the reported status's time.
        if final_leg is None or (moment.kind is Kind.SEEN and moment.leg == final_leg):
            updated = moment.offset_ms
        if moment.kind is Kind.START and state == PENDING:
            state = ACTIVE
        if moment.final:
            state = DELIVERED if moment.kind in DELIVERIES else FAILED
            final_leg = moment.leg
    return steps, state, updated


def check_evaluators(lives: Lives, route: Route, offsets: Sequence[int]) -> None:
    scripts = [lives.script(i) for i in range(lives.n)]
    for t in offsets:
        steps, states, updated = lives.steps_at(t), lives.states_at(t), lives.updated_at(t)
        for i, script in enumerate(scripts):
            assert (steps[i], states[i], updated[i]) == replay(script, t), (i, t)
            seen = view(script, int(steps[i]), 0, -1, route.channels, route.ttls)
            assert seen.updated_ms == updated[i]
            if seen.final_kind is not None:
                assert states[i] == (DELIVERED if seen.final_kind in DELIVERIES else FAILED)
        counts = lives.counts_at(t)
        assert counts == {s: int(np.sum(states == s)) for s in (PENDING, ACTIVE, DELIVERED, FAILED)}
        rows = np.arange(0, lives.n, 3)
        assert np.array_equal(lives.states_at(t, rows), states[rows])
        assert np.array_equal(lives.updated_at(t, rows), updated[rows])
    for i, script in enumerate(scripts):
        final = [m for m in moments(script) if m.final]
        starts = [m.offset_ms for m in moments(script) if m.kind is Kind.START]
        assert lives.first_ms[i] == (starts[0] if starts else 0xFFFFFFFF)
        if final:
            got = (lives.final_ms[i], lives.final_kind[i], lives.final_leg[i], lives.final_code[i])
            assert got == (final[0].offset_ms, final[0].kind, final[0].leg, final[0].code)
        else:
            assert lives.final_ms[i] == 0xFFFFFFFF and lives.final_kind[i] == 0


def offsets_of(lives: Lives) -> list[int]:
    """Every moment's offset, one ms before and after it, and the extremes."""
    real = lives.offsets[lives.offsets != 0xFFFFFFFF].astype(np.int64)
    around = np.unique(np.concatenate([real - 1, real, real + 1]))
    return [-5, *around[:: max(1, around.size // 40)].tolist(), 2**32 + 5]


@settings(max_examples=60, deadline=None)
@given(jobs(), st.data())
def test_evaluators_agree_with_a_replay_of_each_script(job: tuple, data: st.DataObject) -> None:
    route, plans = job
    lives = compile_lives(LegColumns.from_plans(plans, route, CATALOGUE), route, CATALOGUE)
    # Overrides: a blocked message, a scenario's own plan (possibly longer than the table is
    # wide), a forced ending appended to a prefix, and an empty script.
    indices = data.draw(st.lists(st.integers(0, lives.n - 1), unique=True, max_size=4))
    for number, i in enumerate(indices):
        if number == 0:
            blocked = Plan("magic", blocked=True, blocked_after_ms=data.draw(times_ms))
            script = compile_plan(blocked, route, CATALOGUE)
        elif number == 1:
            legs = data.draw(st.lists(leg_plans, min_size=4, max_size=4))
            script = compile_plan(Plan("scenario", tuple(legs)), route, CATALOGUE)
        elif number == 2:
            prefix = list(moments(lives.script(i)))
            prefix = [m for m in prefix[: data.draw(st.integers(1, len(prefix)))] if not m.final]
            now = max(m.offset_ms for m in prefix) + data.draw(st.integers(0, 5000))
            ending = Moment(now, Kind.FAILED, prefix[-1].leg, 777, final=True)
            script = pack_script([*prefix, ending])
        else:
            script = b""
        lives.set_script(i, script)
        assert lives.script(i) == script
    untouched = [i for i in range(lives.n) if i not in indices]
    for i, expected in zip(untouched, scalar([plans[i] for i in untouched], route), strict=True):
        assert lives.script(i) == expected
    check_evaluators(lives, route, offsets_of(lives))


def test_set_script_refuses_what_a_row_cannot_hold() -> None:
    route = route_of(("sms",))
    lives = compile_lives(
        LegColumns.from_plans([[LegPlan("delivered")]], route, CATALOGUE), route, CATALOGUE
    )
    with pytest.raises(ValueError, match="whole number"):
        lives.set_script(0, b"\x00" * 7)
    with pytest.raises(ValueError, match="reserved"):
        lives.set_script(0, pack_script([Moment(0xFFFFFFFF, Kind.START, 0, 1)]))
    with pytest.raises(ValueError, match="time order"):
        lives.set_script(0, pack_script([Moment(5, Kind.START, 0, 1), Moment(4, Kind.START, 0, 1)]))


def test_states_are_the_store_states() -> None:
    assert (PENDING, ACTIVE, DELIVERED, FAILED) == (
        State.PENDING,
        State.ACTIVE,
        State.DELIVERED,
        State.FAILED,
    )


# -- (d) a benchmark print -----------------------------------------------------------------------


@pytest.mark.parametrize("channels", [("viber", "sms"), ("viber", "whatsapp", "push", "sms")])
def test_benchmark_draw_and_compile_50k(channels: tuple[str, ...]) -> None:
    """Not a timed assertion (a shared machine): prints the time and the bytes per message."""
    route = route_of(channels)
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        legs = draw_legs(PROFILE, route, 50_000, job_rng(1, "1001", 1), CATALOGUE)
        lives = compile_lives(legs, route, CATALOGUE)
        best = min(best, time.perf_counter() - began)
    began = time.perf_counter()
    lives.counts_at(60_000)
    counted = time.perf_counter() - began
    print(
        f"\nlives {'+'.join(channels)}: draw+compile 50k in {best * 1000:.1f} ms, "
        f"{lives.nbytes / lives.n:.0f} B/message (width {lives.width}), "
        f"counts_at {counted * 1000:.2f} ms"
    )
    assert lives.n == 50_000


def test_compile_lives_refuses_offsets_beyond_the_script_format() -> None:
    route = Route(("sms",), (86400,), (False,), False)
    huge = [[LegPlan("late", 2**32)]]
    with pytest.raises(ValueError, match="uint32"):
        compile_lives(LegColumns.from_plans(huge, route, CATALOGUE), route, CATALOGUE)


def test_lives_of_messages_without_any_moment_can_be_evaluated() -> None:
    """A small job whose recipients were all rejected: every script is empty."""
    lives = Lives.from_scripts([b"", b""])
    assert lives.steps_at(10).tolist() == [0, 0]
    assert lives.updated_at(10).tolist() == [-1, -1]
    assert lives.states_at(10).tolist() == [PENDING, PENDING]


def test_lives_from_scripts_take_overrides() -> None:
    """A small job's lives are built from its scripts; a forced transition rewrites one."""
    script = pack_script([Moment(0, Kind.START, 0, 11011)])
    lives = Lives.from_scripts([script, script])
    forced = script + pack_script([Moment(5, Kind.FAILED, 0, 36016, final=True)])
    lives.set_script(1, forced)
    assert lives.script(0) == script and lives.script(1) == forced
