"""The cascade compiler and the timeline view (unit tests on hand-built plans), start_time over
HTTP, and the scheduler of one account (AccountEngine) driven through the service layer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from mock_hyber.codes import builtin_catalogue
from mock_hyber.config import Settings
from mock_hyber.engine.evaluate import message_at
from mock_hyber.engine.plan import LegPlan, Plan, Route, compile_plan
from mock_hyber.engine.rules import parse_scenarios
from mock_hyber.engine.timeline import (
    FINAL,
    MOMENT_SIZE,
    Kind,
    Moment,
    moment_count,
    moments,
    pack_script,
    unpack,
    view,
)
from mock_hyber.model import Happening, Job, Message, State
from mock_hyber.reports import ReportBuilder
from mock_hyber.service.accept import SendingService
from mock_hyber.state import AccountState, Backend

CATALOGUE = builtin_catalogue()
TTL = {"push": 30, "viber": 60, "sms": 300, "whatsapp": 120}
S = 1000  # ms per second


def route(
    *channels: str,
    ttls: Sequence[int] | None = None,
    ctr: bool | Sequence[bool] = False,
    template: bool = False,
) -> Route:
    flags = tuple(ctr) if not isinstance(ctr, bool) else (ctr,) * len(channels)
    return Route(
        channels=channels,
        ttls=tuple(ttls) if ttls is not None else tuple(TTL[c] for c in channels),
        ctr=flags,
        viber_template=template,
    )


def compiled(plan: Plan, r: Route) -> list[Moment]:
    return list(moments(compile_plan(plan, r, CATALOGUE)))


def story(plan: Plan, r: Route) -> list[tuple[int, str, str, bool]]:
    """(offset s, kind, channel, final) of every moment: the readable shape of a script."""
    return [
        (m.offset_ms / S, m.kind.name.lower(), r.channels[m.leg], m.final)
        for m in compiled(plan, r)
    ]


def code(channel: str, event: str) -> int:
    return CATALOGUE.event(channel, event).code


def seen_view(plan: Plan, r: Route, step: int | None = None, begin_ms: int = 0) -> Any:
    script = compile_plan(plan, r, CATALOGUE)
    upto = moment_count(script) if step is None else step
    return view(script, upto, begin_ms, begin_ms, r.channels, r.ttls)


DELIVERED_1S = LegPlan("delivered", 1 * S)


# -- the script format ------------------------------------------------------------------------


def test_moment_pack_roundtrip() -> None:
    moment = Moment(123_456, Kind.LATE, 2, 23033, final=True)
    script = pack_script([Moment(0, Kind.START, 0, 11031), moment])
    assert len(script) == 2 * MOMENT_SIZE
    assert moment_count(script) == 2
    assert unpack(script, 1) == moment
    assert script[MOMENT_SIZE + 4] == Kind.LATE | FINAL
    assert list(moments(script, upto=1)) == [Moment(0, Kind.START, 0, 11031)]


# -- cascade rules ----------------------------------------------------------------------------


def test_delivery_on_the_first_leg_stops_the_rest() -> None:
    r = route("viber", "sms")
    plan = Plan("test", (DELIVERED_1S, LegPlan("delivered", 2 * S)))
    assert story(plan, r) == [(0, "start", "viber", False), (1, "delivered", "viber", True)]
    state = seen_view(plan, r)
    assert [leg.channel for leg in state.legs] == ["viber"]
    assert state.final_kind is Kind.DELIVERED
    assert state.final_code == code("viber", "delivered")
    assert state.delivered_leg is state.legs[0]
    assert state.final_ms == 1 * S


def test_viber_template_delivery_code() -> None:
    r = route("viber", template=True)
    state = seen_view(Plan("test", (DELIVERED_1S,)), r)
    assert state.final_code == code("viber", "delivered_template") == 23043


def test_failed_then_delivered_without_waiting_for_the_ttl() -> None:
    r = route("viber", "sms")
    plan = Plan("test", (LegPlan("failed", 2 * S), LegPlan("delivered", 3 * S)))
    assert story(plan, r) == [
        (0, "start", "viber", False),
        (2, "failed", "viber", False),
        (2, "start", "sms", False),
        (5, "delivered", "sms", True),
    ]
    state = seen_view(plan, r)
    viber, sms = state.legs
    assert (viber.code, viber.ended_ms, viber.delivered) == (36036, 2 * S, False)
    assert (sms.started_ms, sms.ended_ms, sms.delivered) == (2 * S, 5 * S, True)
    assert state.final_code == 23011


def test_failure_event_and_explicit_code() -> None:
    r = route("viber", "sms")
    plan = Plan(
        "test", (LegPlan("failed", 1 * S, event="failed_device"), LegPlan("failed", S, code=36999))
    )
    viber, sms = compiled(plan, r)[1], compiled(plan, r)[3]
    assert (viber.kind, viber.code, viber.final) == (Kind.FAILED, 36037, False)
    assert (sms.kind, sms.code, sms.final) == (Kind.FAILED, 36999, True)


def test_expired_chain() -> None:
    r = route("push", "viber", "sms")
    plan = Plan("test", (LegPlan("expired"), LegPlan("expired"), DELIVERED_1S))
    assert story(plan, r) == [
        (0, "start", "push", False),
        (30, "expired", "push", False),
        (30, "start", "viber", False),
        (90, "expired", "viber", False),
        (90, "start", "sms", False),
        (91, "delivered", "sms", True),
    ]
    state = seen_view(plan, r)
    assert [leg.code for leg in state.legs] == [35065, 35035, 23011]


def test_all_expire_the_final_is_the_last_legs_expiry() -> None:
    r = route("viber", "whatsapp", "sms")
    plan = Plan("test", (LegPlan("expired"),) * 3)
    script = compiled(plan, r)
    assert [m.final for m in script] == [False] * 5 + [True]
    last = script[-1]
    assert (last.offset_ms, last.kind, last.code) == (480 * S, Kind.EXPIRED, 35015)
    state = seen_view(plan, r)
    assert state.final_kind is Kind.EXPIRED
    assert state.final_leg == 2
    assert state.delivered_leg is None


def test_a_delivery_is_cut_to_the_ttl() -> None:
    r = route("viber", "sms")
    plan = Plan("test", (LegPlan("delivered", 500 * S), DELIVERED_1S))
    assert story(plan, r)[-1] == (60, "delivered", "viber", True)
    failing = Plan("test", (LegPlan("failed", 500 * S), DELIVERED_1S))
    assert story(failing, r)[1] == (60, "failed", "viber", False)


def test_late_leg_then_a_later_failure_the_late_delivery_is_final() -> None:
    r = route("viber", "sms")
    plan = Plan("test", (LegPlan("late", 10 * S), LegPlan("failed", 20 * S)))
    assert story(plan, r) == [
        (0, "start", "viber", False),
        (60, "fallback", "viber", False),
        (60, "start", "sms", False),
        (70, "late", "viber", True),
    ]
    state = seen_view(plan, r)
    assert state.final_kind is Kind.LATE
    assert state.delivered_leg is state.legs[0]
    assert state.final_code == 23033


def test_late_leg_after_the_last_leg_failed_is_still_final() -> None:
    r = route("viber", "sms")
    plan = Plan("test", (LegPlan("late", 100 * S), LegPlan("failed", 5 * S)))
    assert story(plan, r) == [
        (0, "start", "viber", False),
        (60, "fallback", "viber", False),
        (60, "start", "sms", False),
        (65, "failed", "sms", False),  # not final: Viber may still deliver
        (160, "late", "viber", True),
    ]


def test_late_leg_after_the_next_leg_delivered_is_recorded_not_final() -> None:
    r = route("viber", "sms")
    plan = Plan("test", (LegPlan("late", 10 * S), LegPlan("delivered", 2 * S)))
    assert story(plan, r) == [
        (0, "start", "viber", False),
        (60, "fallback", "viber", False),
        (60, "start", "sms", False),
        (62, "delivered", "sms", True),
        (70, "late", "viber", False),
    ]
    state = seen_view(plan, r)
    assert [leg.delivered for leg in state.legs] == [True, True]
    assert state.delivered_leg is state.legs[1]
    assert state.final_code == 23011
    assert state.updated_ms == 62 * S  # the late delivery leaves the final status's time


def test_a_later_leg_never_starts_once_settled() -> None:
    r = route("viber", "sms", "whatsapp")
    plan = Plan("test", (LegPlan("late", 1 * S), LegPlan("delivered", 30 * S), DELIVERED_1S))
    kinds = story(plan, r)
    assert ("start", "whatsapp") not in [(kind, ch) for _, kind, ch, _ in kinds]
    assert kinds[-1] == (61, "late", "viber", True)


def test_blocked() -> None:
    r = route("viber", "sms")
    plan = Plan("magic", blocked=True)
    script = compiled(plan, r)
    assert script == [Moment(0, Kind.BLOCKED, 0, 36001, final=True)]
    state = seen_view(plan, r)
    assert state.legs == []
    assert (state.final_kind, state.final_code, state.final_leg) == (Kind.BLOCKED, 36001, None)
    assert state.delivered_leg is None


def test_a_plan_needs_one_leg_per_channel() -> None:
    with pytest.raises(ValueError):
        compile_plan(Plan("test", (DELIVERED_1S,)), route("viber", "sms"), CATALOGUE)


SEEN_CLICKED = LegPlan("delivered", 1 * S, seen_after_ms=5 * S, clicks=2, clicks_after_ms=10 * S)


@pytest.mark.parametrize("channel", ["push", "viber", "sms", "whatsapp"])
@pytest.mark.parametrize("ctr", [False, True])
def test_seen_only_on_viber_and_whatsapp_clicks_only_with_ctr(channel: str, ctr: bool) -> None:
    r = route(channel, ctr=ctr)
    script = compiled(Plan("test", (SEEN_CLICKED,)), r)
    kinds = [m.kind for m in script]
    assert (Kind.SEEN in kinds) is (channel in ("viber", "whatsapp"))
    assert (Kind.CLICK in kinds) is ctr
    state = seen_view(Plan("test", (SEEN_CLICKED,)), r)
    assert state.seen is (channel in ("viber", "whatsapp"))
    assert state.clicks == (2 if ctr else 0)
    if channel in ("viber", "whatsapp"):
        seen = next(m for m in script if m.kind is Kind.SEEN)
        assert (seen.offset_ms, seen.code) == (6 * S, code(channel, "seen"))
        assert state.final_code == code(channel, "seen")  # the final status follows the leg
    if ctr:
        click = next(m for m in script if m.kind is Kind.CLICK)
        assert (click.offset_ms, click.code, click.final) == (11 * S, 2, False)


def test_clicks_follow_the_ctr_of_the_delivering_channel() -> None:
    r = route("viber", "sms", ctr=(False, True))
    plan = Plan("test", (LegPlan("failed", S), SEEN_CLICKED))
    assert Kind.CLICK in [m.kind for m in compiled(plan, r)]
    first = Plan("test", (SEEN_CLICKED, DELIVERED_1S))
    assert Kind.CLICK not in [m.kind for m in compiled(first, r)]


def test_seen_and_clicks_of_an_undelivered_leg_never_happen() -> None:
    r = route("viber", "sms", ctr=True)
    plan = Plan("test", (SEEN_CLICKED, DELIVERED_1S))
    assert [m.kind for m in compiled(plan, r)] == [
        Kind.START,
        Kind.DELIVERED,
        Kind.SEEN,
        Kind.CLICK,
    ]
    failed = Plan("test", (LegPlan("failed", S), LegPlan("failed", S)))
    assert {m.kind for m in compiled(failed, r)} == {Kind.START, Kind.FAILED}


def test_a_late_leg_is_seen_after_its_late_delivery() -> None:
    r = route("viber", "sms")
    late_seen = LegPlan("late", 10 * S, seen_after_ms=3 * S)
    assert story(Plan("test", (late_seen, LegPlan("delivered", 2 * S))), r)[-2:] == [
        (70, "late", "viber", False),
        (73, "seen", "viber", False),
    ]


def test_view_at_each_step() -> None:
    r = route("viber", "sms")
    plan = Plan("test", (LegPlan("expired"), LegPlan("delivered", 2 * S)))
    begin = 1_000_000
    at = [seen_view(plan, r, step, begin_ms=begin) for step in range(5)]
    assert at[0].legs == [] and at[0].updated_ms == begin and at[0].final_kind is None
    assert [leg.channel for leg in at[1].legs] == ["viber"] and at[1].legs[0].code == 11031
    assert at[2].legs[0].code == 35035 and at[2].legs[0].ended_ms == begin + 60 * S
    assert [leg.channel for leg in at[3].legs] == ["viber", "sms"]
    assert at[3].final_kind is None
    assert at[4].final_kind is Kind.DELIVERED and at[4].final_ms == begin + 62 * S
    assert view(None, 0, begin, 5, r.channels, r.ttls).updated_ms == 5


# -- start_time over HTTP ---------------------------------------------------------------------

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize("start_time", ["2026-01-01 01:00:00+00:00", "2026-01-01 03:00:00"])
def test_start_time_in_the_future_delays_the_start(
    clients: tuple[httpx.Client, httpx.Client], start_time: str
) -> None:
    alice, control = clients
    control.post("/reset").raise_for_status()
    body = {
        "messages": [
            {"phone_number": 380000000001, "extra_id": "a", "text": "Hi"},
            {"phone_number": 380000000002, "extra_id": "b", "text": "Hi"},
        ],
        "channels": ["viber", "sms"],
        "channel_options": {"viber": {"ttl": 60}, "sms": {"ttl": 300, "alpha_name": "GMSU"}},
        "start_time": start_time,  # Kyiv is UTC+2 in January
    }
    response = alice.post("/batch", json=body)
    assert response.status_code == 200, response.text
    job_id = response.json()["job_id"]

    def advance(seconds: float) -> None:
        control.post("/clock/advance", json={"seconds": seconds}).raise_for_status()

    advance(59 * 60)
    items = alice.get(f"/status/{job_id}").json()["messages"]
    assert [item["status"] for item in items] == [-1, -1]
    assert [item["processed"] for item in items] == [False, False]
    first, second = (item["message_id"] for item in items)
    advanced = alice.get(f"/api/dr/{first}/advanced").json()
    assert advanced["started"] is False and advanced["reports"] == []
    assert control.get(f"/messages/{first}").json()["state"] == "pending"
    plan = control.get(f"/messages/{first}").json()["plan"]
    assert plan["moments"][0]["at_ms"] == START_MS + 3600 * S
    assert not any(moment["happened"] for moment in plan["moments"])

    advance(60)  # +60 min: the cascade starts
    advanced = alice.get(f"/api/dr/{first}/advanced").json()
    # The docs: `started` is false for a message "started with delay" (issue 12, point 5).
    assert advanced["started"] is False and advanced["processing"] is True
    assert advanced["reports"][0]["time"] == START_MS + 3600 * S
    advance(1)
    assert alice.get(f"/api/dr/{first}/simple").json()["status"] == 2
    advance(61)  # +60 min + 62 s: the second one falls back to SMS and delivers
    simple = alice.get(f"/api/dr/{second}/simple").json()
    assert (simple["status"], simple["last_partner"]) == (2, "sms")
    assert simple["time"] == START_MS + (3600 + 62) * S


def test_start_time_in_the_past_starts_at_once(clients: tuple[httpx.Client, httpx.Client]) -> None:
    alice, control = clients
    control.post("/reset").raise_for_status()
    body = {
        "messages": [{"phone_number": 380000000001, "text": "Hi"}],
        "channels": ["sms"],
        "channel_options": {"sms": {"ttl": 300, "alpha_name": "GMSU"}},
        "start_time": "2025-12-31 10:00:00+00:00",
    }
    job_id = alice.post("/batch", json=body).json()["job_id"]
    control.post("/clock/advance", json={"seconds": 1}).raise_for_status()
    (item,) = alice.get(f"/status/{job_id}").json()["messages"]
    assert item["status"] == 2
    assert item["time"] == START_MS + 1 * S


# -- the scheduler (AccountEngine) through the service layer --------------------------------

CLOCK_START = datetime(2026, 1, 1, tzinfo=UTC)
BEGIN = START_MS
DAY = 86_400 * S


CALLBACK = "http://127.0.0.1:9/dr"  # never contacted: these tests run the scheduler alone


def account(seed: int = 1, **settings: Any) -> AccountState:
    backend = Backend(Settings(seed=seed, clock_frozen=True, clock_start=CLOCK_START, **settings))
    return backend.accounts["1001"]


def options(*channels: str, ctr: bool = False) -> dict[str, dict[str, Any]]:
    every: dict[str, dict[str, Any]] = {
        "viber": {"ttl": 60, "text": "Hi"},
        "sms": {"ttl": 300, "alpha_name": "GMSU", "text": "Hi"},
        "whatsapp": {"ttl": 120, "text": "Hi"},
        "push": {"ttl": 30, "title": "T", "text": "Hi"},
    }
    chosen = {channel: every[channel] for channel in channels}
    for values in chosen.values():
        values["ctr"] = ctr
    return chosen


def single(acc: AccountState, phone: int, *channels: str, **top: Any) -> Job:
    body = {
        "phone_number": phone,
        "channels": list(channels),
        "channel_options": options(*channels),
    }
    body.update(top)
    return SendingService(acc).send_single(body)


def batch(
    acc: AccountState, phones: Sequence[int], *channels: str, ctr: bool = False, **top: Any
) -> Job:
    body = {
        "messages": [{"phone_number": phone, "text": "Hi"} for phone in phones],
        "channels": list(channels),
        "channel_options": options(*channels, ctr=ctr),
        **top,
    }
    return SendingService(acc).send_batch(body)


def record(acc: AccountState) -> list[Happening]:
    happened: list[Happening] = []
    acc.engine.listeners.append(happened.append)
    return happened


def at(acc: AccountState, job: Job, index: int, ms: int) -> Message:
    return message_at(job, index, ms)


def test_only_what_a_callback_reports_is_scheduled() -> None:
    acc = account()
    quiet = batch(acc, [380671000000 + i for i in range(40)], "viber", "sms")
    assert len(acc.engine) == 0  # no callback_url: nothing runs for these messages
    told = batch(acc, [380672000000 + i for i in range(40)], "viber", "sms", callback_url=CALLBACK)
    assert len(acc.engine) == 1  # one entry for the whole job
    assert quiet.lives is not None and told.lives is not None


def test_reported_moments_happen_in_time_order_once_each() -> None:
    acc = account()
    happened = record(acc)
    jobs = [
        single(acc, 380000000002, "viber", "sms", callback_url=CALLBACK),
        single(acc, 380000000008, "viber", "sms", callback_url=CALLBACK),
        batch(
            acc,
            [380000000005, 380000000006, 380000000003],
            "whatsapp",
            "sms",
            ctr=True,
            callback_url=CALLBACK,
        ),
        batch(
            acc,
            [380671000000 + i for i in range(40)],
            "push",
            "viber",
            "sms",
            ctr=True,
            callback_url=CALLBACK,
        ),
    ]
    acc.clock.advance(30)
    jobs.append(batch(acc, [380000000001, 380672000000], "sms", callback_url=CALLBACK))
    jobs.append(
        single(
            acc, 380000000002, "sms", start_time="2026-01-01 00:10:00+00:00", callback_url=CALLBACK
        )
    )
    horizons = [BEGIN, BEGIN + 30 * S, BEGIN + 65 * S, BEGIN + 601 * S, BEGIN + 20 * DAY]
    seen_so_far = 0
    for horizon in horizons:
        assert acc.engine.run_until(horizon) is True
        assert all(h.at_ms <= horizon for h in happened[seen_so_far:])
        due = acc.engine.next_due_ms()
        assert due is None or due > horizon
        seen_so_far = len(happened)
    times = [h.at_ms for h in happened]
    assert times == sorted(times)
    assert len(acc.engine) == 0
    for job in jobs:
        for index in range(job.size):
            message = at(acc, job, index, BEGIN + 20 * DAY)
            assert message.state in (State.DELIVERED, State.FAILED)
            mine = [h for h in happened if h.message.message_id == message.message_id]
            assert [h.final for h in mine] == [True]  # finals only (seen/late not reported)
            assert mine[0].message.state is message.state  # the body is built as of then


def test_seen_and_late_are_reported_when_the_account_asks() -> None:
    acc = account(callback_report_seen=True, callback_report_late=True)
    happened = record(acc)
    single(acc, 380000000006, "viber", callback_url=CALLBACK)  # delivered, seen 5 s later
    single(acc, 380000000008, "viber", "sms", callback_url=CALLBACK)  # sms, then viber late
    acc.engine.run_until(BEGIN + DAY)
    kinds = sorted((h.message.phone, h.kind.name, h.final) for h in happened)
    assert kinds == [
        ("380000000006", "DELIVERED", True),
        ("380000000006", "SEEN", False),
        ("380000000008", "DELIVERED", True),
        ("380000000008", "LATE", False),
    ]


def test_states_are_derived_from_the_clock() -> None:
    acc = account()
    job = single(acc, 380000000001, "sms", start_time="2026-01-01 00:10:00+00:00")
    assert at(acc, job, 0, BEGIN + 599 * S).state is State.PENDING
    assert at(acc, job, 0, BEGIN + 600 * S).state is State.ACTIVE
    assert at(acc, job, 0, BEGIN + 601 * S).state is State.DELIVERED
    acc.clock.advance(601)
    assert acc.message(job.message_id(0)).state is State.DELIVERED  # type: ignore[union-attr]
    assert len(acc.engine) == 0


def test_budget_slices_what_is_due() -> None:
    acc = account()
    happened = record(acc)
    batch(acc, [380500000000 + i for i in range(2500)], "sms", callback_url=CALLBACK)
    calls = 0
    while not acc.engine.run_until(BEGIN + DAY, budget=300):
        calls += 1
        assert calls < 1000
        assert acc.engine.emitted_ms < BEGIN + DAY
    assert calls >= 5  # 2,500 final reports, 300 at a time
    assert len(happened) == 2500 and acc.engine.emitted_ms == BEGIN + DAY
    assert len(acc.engine) == 0


def test_a_rewritten_message_reports_its_new_life_only() -> None:
    acc = account()
    happened = record(acc)
    job = batch(acc, [380500000001, 380500000002], "sms", callback_url=CALLBACK)
    acc.engine.run_until(BEGIN)
    message = at(acc, job, 0, BEGIN)
    forced = (
        message.script[: message.step * MOMENT_SIZE]
        + Moment(  # type: ignore[index]
            0, Kind.FAILED, 0, 36016, final=True
        ).pack()
    )
    acc.rewrite_message(job, 0, forced, kept=message.step)
    acc.engine.run_until(BEGIN + DAY)
    finals = {h.message.index: h for h in happened if h.final}
    assert finals[0].kind is Kind.FAILED and finals[0].at_ms == BEGIN  # its new life
    assert len([h for h in happened if h.message.index == 0]) == 1  # the planned one is gone
    assert finals[1].message.index == 1  # the other one as planned


def test_a_removed_job_reports_nothing_more() -> None:
    acc = account()
    happened = record(acc)
    job = batch(acc, [380500000001, 380500000002], "sms", callback_url=CALLBACK)
    acc.store.remove_job(job)
    acc.engine.run_until(BEGIN + DAY)
    assert happened == [] and len(acc.engine) == 0


def test_reset_drops_pending_work() -> None:
    acc = account()
    single(acc, 380000000002, "viber", "sms", callback_url=CALLBACK)
    assert len(acc.engine) == 1
    acc.reset()
    assert len(acc.engine) == 0
    assert acc.engine.next_due_ms() is None
    assert acc.clock.now_ms() == BEGIN


def test_blocked_after_waits() -> None:
    acc = account()
    acc.use_scenarios(
        parse_scenarios(
            "rules: [{match: {phone: '380961111111'}, blocked: true, blocked_after: 30}]"
        )
    )
    job = single(acc, 380961111111, "sms")
    message = at(acc, job, 0, BEGIN + 1 * S)
    assert not message.state.final
    assert ReportBuilder().simple_dr(message)["status"] == -1
    message = at(acc, job, 0, BEGIN + 30 * S)
    assert message.state is State.FAILED
    assert ReportBuilder().simple_dr(message)["hyber_status"] == 36001


def test_budget_slices_moments_that_fall_in_the_same_millisecond() -> None:
    """2,500 recipients with a fixed delivery delay settle in the same millisecond: the runner still
    reports them a budget at a time, so a big job never holds the event loop for long."""
    from mock_hyber.engine.rules import parse_scenarios

    acc = account()
    fixed = {"outcomes": {"delivered": 1}, "delivery_delay": {"median": 4, "sigma": 0}}
    acc.use_scenarios(parse_scenarios(json.dumps({"profile": {"sms": fixed}}).encode()))
    happened = record(acc)
    batch(acc, [380500000000 + i for i in range(2500)], "sms", callback_url=CALLBACK)
    sizes = []
    while True:
        before = len(happened)
        finished = acc.engine.run_until(BEGIN + DAY, budget=300)
        sizes.append(len(happened) - before)
        if finished:
            break
        assert len(sizes) < 100
    assert len(happened) == 2500 and max(sizes) <= 300 and len(sizes) >= 9
