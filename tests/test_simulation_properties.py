"""Properties of the simulation at the service/engine level (no HTTP): every accepted message
reaches exactly one final state, timings respect the ttls, the same seed replays byte for byte,
and the random profile's outcomes stay near its weights."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_hyber.config import Settings
from mock_hyber.engine.evaluate import messages_at
from mock_hyber.engine.timeline import Kind, moment_count, moments
from mock_hyber.model import Job, Message, State
from mock_hyber.reports import ReportBuilder
from mock_hyber.service.accept import SendingService
from mock_hyber.state import AccountState, Backend

CLOCK_START = datetime(2026, 1, 1, tzinfo=UTC)
START_MS = 1_767_225_600_000
DAY_MS = 86_400_000
CHANNELS = ("push", "viber", "sms", "whatsapp")
TTL_RANGE = {
    "push": (30, 86400),
    "viber": (40, 86400),
    "sms": (300, 259200),
    "whatsapp": (60, 604800),
}
MAGIC = [380000000000 + digit for digit in range(1, 9)]
REJECTED_MAGIC = 380000000004
BUILD = ReportBuilder()


def account(seed: int) -> AccountState:
    backend = Backend(Settings(seed=seed, clock_frozen=True, clock_start=CLOCK_START))
    return backend.accounts["1001"]


@st.composite
def channel_options(draw: st.DrawFn) -> tuple[list[str], dict[str, dict[str, Any]]]:
    order = draw(st.permutations(CHANNELS))
    channels = list(order[: draw(st.integers(1, len(CHANNELS)))])
    options: dict[str, dict[str, Any]] = {}
    for channel in channels:
        low, high = TTL_RANGE[channel]
        # Mostly short ttls (as in real use), sometimes anywhere in the allowed range.
        ttl = draw(st.one_of(st.integers(low, min(high, low + 600)), st.integers(low, high)))
        values: dict[str, Any] = {"ttl": ttl, "ctr": draw(st.booleans())}
        if channel == "sms":
            values["alpha_name"] = "GMSU"
        elif channel == "push":
            values["title"] = "Title"
        elif channel == "viber" and draw(st.booleans()):
            values["img"] = "https://example.com/a.png"  # not a template message
        options[channel] = values
    return channels, options


phones = st.one_of(
    st.integers(380_500_000_000, 380_999_999_999),
    st.sampled_from(MAGIC),
)


@st.composite
def batch_requests(draw: st.DrawFn) -> dict[str, Any]:
    channels, options = draw(channel_options())
    recipients = draw(st.lists(phones, min_size=1, max_size=30))
    body: dict[str, Any] = {
        "messages": [
            {"phone_number": phone, "extra_id": f"e{index}", "text": "Hello https://x.io"}
            for index, phone in enumerate(recipients)
        ],
        "channels": channels,
        "channel_options": options,
        "tag": draw(st.sampled_from([None, "promo", "news"])),
    }
    if draw(st.booleans()):
        minutes = draw(st.integers(1, 180))
        body["start_time"] = f"2026-01-01 {minutes // 60:02d}:{minutes % 60:02d}:00+00:00"
    return body


def horizon(job: Job) -> int:
    """Far enough for everything: every ttl, late deliveries, seen and clicks."""
    ttls = sum(int(job.channel_options[channel]["ttl"]) for channel in job.channels)
    return job.begin_ms + ttls * 1000 + 10 * DAY_MS


def check_timings(message: Message) -> None:
    """Each leg starts when the previous one ends; deliveries and failures come within the
    ttl, expiries exactly at it; only late deliveries come after it."""
    job = message.job
    ttls = [int(job.channel_options[channel]["ttl"]) * 1000 for channel in job.channels]
    script = message.script or b""
    started: dict[int, int] = {}
    last_offset = 0
    handover = 0
    for moment in moments(script):
        assert moment.offset_ms >= last_offset, "moments are in time order"
        last_offset = moment.offset_ms
        if moment.kind is Kind.BLOCKED:
            continue
        if moment.kind is Kind.START:
            assert moment.leg not in started
            assert moment.leg == len(started), "legs start in channel order"
            assert moment.offset_ms == handover
            started[moment.leg] = moment.offset_ms
            continue
        assert moment.leg in started, "nothing happens on a leg before it starts"
        elapsed = moment.offset_ms - started[moment.leg]
        ttl = ttls[moment.leg]
        if moment.kind in (Kind.DELIVERED, Kind.FAILED):
            assert elapsed <= ttl, (moment, ttl)
        if moment.kind in (Kind.FAILED, Kind.EXPIRED, Kind.FALLBACK):
            handover = moment.offset_ms
        if moment.kind in (Kind.EXPIRED, Kind.FALLBACK):
            assert elapsed == ttl
        if moment.kind is Kind.LATE:
            assert elapsed > ttl


def check_magic(message: Message) -> None:
    """The documented life of the magic numbers that do not depend on the profile."""
    script = list(moments(message.script or b""))
    final = next(m for m in script if m.final)
    channels = message.job.channels
    phone = int(message.phone)
    if phone == 380000000001:
        assert (final.kind, final.leg, final.offset_ms) == (Kind.DELIVERED, 0, 1000)
    elif phone == 380000000002 and len(channels) > 1:
        ttl = int(message.job.channel_options[channels[0]]["ttl"]) * 1000
        assert (final.kind, final.leg, final.offset_ms) == (Kind.DELIVERED, 1, ttl + 2000)
    elif phone == 380000000003:
        assert (final.kind, final.leg) == (Kind.EXPIRED, len(channels) - 1)
        assert message.state is State.FAILED
    elif phone == 380000000007:
        assert script == [final] and final.kind is Kind.BLOCKED and final.code == 36001


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), body=batch_requests())
def test_every_accepted_message_ends_exactly_once(seed: int, body: dict[str, Any]) -> None:
    acc = account(seed)
    job = SendingService(acc).send_batch(body)
    assert job.size == len(body["messages"])
    assert len(acc.engine) == 0  # no callback_url: nothing is scheduled
    for message in messages_at(job, horizon(job)):
        if int(message.phone) == REJECTED_MAGIC:
            assert not message.accepted and message.state is State.REJECTED
            assert message.script is None
            continue
        assert message.accepted
        script = message.script
        assert script is not None
        assert sum(1 for m in moments(script) if m.final) == 1
        assert message.step == moment_count(script), "every planned moment has happened"
        assert message.state in (State.DELIVERED, State.FAILED)
        simple = BUILD.simple_dr(message)
        assert simple["status"] in (2, 3)
        assert (simple["status"] == 2) is (message.state is State.DELIVERED)
        advanced = BUILD.advanced_dr(message)
        assert advanced["processing"] is False
        assert (advanced["delivered_via"] != "hyber") is (message.state is State.DELIVERED)
        if message.state is State.DELIVERED:
            assert simple["last_partner"] == advanced["delivered_via"]
            assert advanced["delivered_via"] in job.channels
        item = BUILD.status_item(message)
        assert item["processed"] is False
        if message.state is State.FAILED:
            assert item["error_code"] == message.error_code
            assert simple["hyber_status"] == message.error_code
        has_ctr = any(job.channel_options[channel]["ctr"] for channel in job.channels)
        assert ("clicks" in simple) is has_ctr
        check_timings(message)
        check_magic(message)


def send_the_same(acc: AccountState, body: dict[str, Any]) -> list[Job]:
    service = SendingService(acc)
    jobs = [service.send_batch(body)]
    acc.clock.advance(7)
    single = {
        "phone_number": 380671234567,
        "extra_id": "single",
        "channels": body["channels"],
        "channel_options": {
            channel: {**options, "text": "Hi"}
            for channel, options in body["channel_options"].items()
        },
    }
    jobs.append(service.send_single(single))
    return jobs


def dumps(jobs: list[Job], at: int) -> list[bytes]:
    return [
        orjson.dumps([BUILD.status_item(m), BUILD.simple_dr(m), BUILD.advanced_dr(m)])
        for job in jobs
        for m in messages_at(job, at)
    ]


def ids(jobs: list[Job]) -> list[str]:
    return [job.message_id(index) for job in jobs for index in range(job.size)]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), body=batch_requests())
def test_the_same_seed_replays_byte_for_byte(seed: int, body: dict[str, Any]) -> None:
    first, second = account(seed), account(seed)
    ours = send_the_same(first, body)
    theirs = send_the_same(second, body)
    assert ids(ours) == ids(theirs)
    end = max(horizon(job) for job in ours)
    for at in (START_MS, START_MS + 61_000, START_MS + 3600_000, end):
        assert dumps(ours, at) == dumps(theirs, at)
    assert [m.script for j in ours for m in messages_at(j, end)] == [
        m.script for j in theirs for m in messages_at(j, end)
    ]

    other = account(seed + 1)
    others = send_the_same(other, body)
    assert set(ids(others)).isdisjoint(ids(ours))
    assert others[0].job_id != ours[0].job_id


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), body=batch_requests(), seconds=st.integers(0, 4000))
def test_the_status_report_equals_each_message_evaluated_alone(
    seed: int, body: dict[str, Any], seconds: int
) -> None:
    """The campaign status report is evaluated for the whole job at once (numpy); it must say
    exactly what each message's own evaluation says."""
    acc = account(seed)
    job = SendingService(acc).send_batch(body)
    for at in (START_MS + seconds * 1000, horizon(job)):
        whole = BUILD.status_report(job, at)
        one_by_one = [BUILD.status_item(m) for m in messages_at(job, at)]
        assert orjson.dumps(whole) == orjson.dumps(one_by_one)


def test_a_reset_replays_the_same_run() -> None:
    acc = account(5)
    body = {
        "messages": [{"phone_number": 380501000000 + i, "text": "Hi"} for i in range(50)],
        "channels": ["viber", "sms"],
        "channel_options": {
            "viber": {"ttl": 60, "ctr": True},
            "sms": {"ttl": 300, "alpha_name": "A"},
        },
    }
    before = send_the_same(acc, body)
    first = dumps(before, START_MS + 30 * DAY_MS)
    acc.reset()
    after = send_the_same(acc, body)
    assert dumps(after, START_MS + 30 * DAY_MS) == first


@pytest.fixture(scope="module")
def sms_run() -> list[Message]:
    """2000 SMS-only messages with random phone numbers, run to the end, default profile."""
    acc = account(2026)
    body = {
        "messages": [{"phone_number": 380501000000 + i, "text": "Hello"} for i in range(2000)],
        "channels": ["sms"],
        "channel_options": {"sms": {"ttl": 300, "alpha_name": "GMSU"}},
    }
    job = SendingService(acc).send_batch(body)
    return messages_at(job, horizon(job))


def test_profile_delivered_share_is_sane(sms_run: list[Message]) -> None:
    states = Counter(message.state for message in sms_run)
    assert states[State.DELIVERED] + states[State.FAILED] == len(sms_run)
    share = states[State.DELIVERED] / len(sms_run)
    assert 0.85 <= share <= 0.98, share  # the profile says 0.93
    codes = Counter(message.error_code for message in sms_run if message.state is State.FAILED)
    assert set(codes) <= {35015, 36016, 36017}
    assert codes[35015] > 0 and codes[36016] + codes[36017] > 0  # both ways of failing happen


def test_profile_timings_respect_the_ttl(sms_run: list[Message]) -> None:
    delays = []
    for message in sms_run:
        check_timings(message)
        script = list(moments(message.script or b""))
        assert all(m.kind is not Kind.LATE for m in script)  # the SMS profile has no late
        delivered = [m for m in script if m.kind is Kind.DELIVERED]
        if delivered:
            delays.append(delivered[0].offset_ms)
    assert all(1000 <= delay <= 120_000 for delay in delays)  # the profile's min and max
    delays.sort()
    median = delays[len(delays) // 2]
    assert 2_000 <= median <= 8_000, median  # the profile's median is 4 s


def test_profile_cascade_timings_respect_the_ttls() -> None:
    acc = account(99)
    body = {
        "messages": [{"phone_number": 380501000000 + i, "text": "Hi"} for i in range(1000)],
        "channels": ["viber", "whatsapp", "push", "sms"],
        "channel_options": {
            "viber": {"ttl": 40, "ctr": True},
            "whatsapp": {"ttl": 60, "ctr": True},
            "push": {"ttl": 30, "title": "T", "ctr": True},
            "sms": {"ttl": 300, "alpha_name": "GMSU", "ctr": True},
        },
    }
    job = SendingService(acc).send_batch(body)
    messages = messages_at(job, horizon(job))
    kinds: Counter[Kind] = Counter()
    for message in messages:
        check_timings(message)
        kinds.update(m.kind for m in moments(message.script or b""))
    # With 1000 messages the profile's rarer outcomes all show up, and are all checked above.
    for kind in (Kind.FAILED, Kind.EXPIRED, Kind.FALLBACK, Kind.LATE, Kind.SEEN, Kind.CLICK):
        assert kinds[kind] > 0, kind
    assert sum(m.state is State.DELIVERED for m in messages) > 950
