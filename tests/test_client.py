"""The test tooling against a live server: MockHyberClient (every method), AsyncMockHyberClient,
and CallbackReceiver. The server runs on a frozen clock: nothing happens until a test advances
it, except where a test lets it run on purpose."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_hyber import (
    AsyncMockHyberClient,
    CallbackReceiver,
    LiveServer,
    MockHyberClient,
    MockHyberError,
    MockHyberTimeout,
    Settings,
)
from mock_hyber.testing import ApiFault, CallbackReceiverError, JobInfo, MessageInfo

START = "2026-01-01T00:00:00Z"
START_MS = 1767225600000
VIBER_SMS = {
    "viber": {"text": "Hello", "ttl": 60},
    "sms": {"text": "Hello", "alpha_name": "Shop", "ttl": 300},
}
DELIVERED = 380000000001
FALLBACK = 380000000002
ALL_EXPIRE = 380000000003
REJECTED = 380000000004
PLAIN = 380501234567  # no magic: the seeded profile decides


@pytest.fixture(scope="module")
def receiver() -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as live:
        yield live


@pytest.fixture(scope="module")
def live(receiver: CallbackReceiver) -> Iterator[LiveServer]:
    settings = Settings(
        accounts="1001:hyber:hyber,1002:other:pw",
        seed=7,
        clock_frozen=True,
        clock_start=START,
        inbound_url=receiver.url_for("/inbound"),
        log_level="warning",
        viber_templates=[{"id": 6349599, "text": "{{text}}"}],  # text-only Viber: 23043
        dr_delay=0,  # the DR helpers are read at any time here; the delay: test_fidelity.py
    )
    with LiveServer(settings) as server:
        yield server


@pytest.fixture
def hyber(live: LiveServer, receiver: CallbackReceiver) -> Iterator[MockHyberClient]:
    with MockHyberClient(live.url) as client:
        client.reset(all_accounts=True)
        receiver.clear()
        receiver.respond_with(default=200)
        yield client


@pytest.fixture
def other(live: LiveServer) -> Iterator[MockHyberClient]:
    with MockHyberClient(live.url, client_id=1002, login="other", password="pw") as client:
        yield client


def single(phone: int, callback_url: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "phone_number": phone,
        "channels": ["viber", "sms"],
        "channel_options": VIBER_SMS,
        **extra,
    }
    if callback_url:
        body["callback_url"] = callback_url
    return body


def batch(*phones: int, callback_url: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messages": [
            {"phone_number": phone, "text": f"Hi {phone}", "extra_id": f"E-{phone}"}
            for phone in phones
        ],
        "channels": ["viber", "sms"],
        "channel_options": VIBER_SMS,
        **extra,
    }
    if callback_url:
        body["callback_url"] = callback_url
    return body


# -- health, reset, reference data ----------------------------------------------------------


def test_health(hyber: MockHyberClient) -> None:
    health = hyber.health()
    assert health.status == "ok"
    assert health.seed == 7
    assert health.accounts == ("1001", "1002")
    assert health.messages == 0


def test_reset_wipes_only_its_own_account(hyber: MockHyberClient, other: MockHyberClient) -> None:
    hyber.send_single(single(DELIVERED))
    other.send_single(single(DELIVERED))
    assert hyber.reset() == ["1001"]
    assert hyber.messages() == []
    assert len(other.messages()) == 1
    assert hyber.reset(all_accounts=True) == ["1001", "1002"]
    assert other.messages() == []


def test_magic_numbers_and_codes(hyber: MockHyberClient) -> None:
    magic = {number.phone: number for number in hyber.magic_numbers()}
    assert magic[str(FALLBACK)].name == "fallback-after-ttl"
    assert magic[str(FALLBACK)].legs[0]["outcome"] == "expired"
    assert "380000000008" in magic
    assert hyber.codes()


# -- clock ----------------------------------------------------------------------------------


def test_clock_advance_freeze_resume_speed(hyber: MockHyberClient) -> None:
    clock = hyber.clock()
    assert (clock.client_id, clock.now_ms, clock.frozen) == ("1001", START_MS, True)
    assert hyber.advance(61.5).now_ms == START_MS + 61_500
    assert hyber.set_speed(4).speed == 4
    assert hyber.clock().now_ms == START_MS + 61_500  # still frozen
    running = hyber.resume()
    assert not running.frozen
    time.sleep(0.05)
    assert hyber.freeze().now_ms > START_MS + 61_500
    with pytest.raises(MockHyberError) as refused:
        hyber.advance(-1)
    assert (refused.value.status_code, refused.value.error_code) == (400, 11002)


def test_clock_calls_touch_only_their_account(
    hyber: MockHyberClient, other: MockHyberClient
) -> None:
    hyber.advance(100)
    assert other.clock().now_ms == START_MS


# -- scenarios ------------------------------------------------------------------------------


def test_scenarios_from_yaml_decide_outcomes(hyber: MockHyberClient) -> None:
    shown = hyber.set_scenarios(
        """
rules:
  - name: viber-fails-then-sms
    match: {phone: "38099.*"}
    channels:
      viber: {outcome: failed, after: 3}
      sms: {outcome: delivered, after: 7}
"""
    )
    assert shown.rules[0]["name"] == "viber-fails-then-sms"
    assert hyber.scenarios().rules == shown.rules
    message_id = hyber.send_single(single(380991112233))
    hyber.advance(10)
    message = hyber.message(message_id)
    assert message.plan is not None and message.plan.source == "scenario viber-fails-then-sms"
    assert message.delivered_via == "sms"


def test_scenarios_from_a_dict_and_refused_ones(hyber: MockHyberClient) -> None:
    rule = {"name": "blocked", "match": {"extra_id": "BLOCK-.*"}, "blocked": True}
    assert hyber.set_scenarios({"rules": [rule]}).rules[0]["name"] == "blocked"
    with pytest.raises(MockHyberError) as refused:
        hyber.set_scenarios("rules: [{match: {colour: red}}]")
    assert (refused.value.status_code, refused.value.error_code) == (400, 11002)
    assert hyber.reset() and hyber.scenarios().rules == ()


@pytest.mark.parametrize("text", ["rules: [{match: {phone: '('}}]", "rules: ["])
def test_scenarios_with_a_bad_regex_or_bad_yaml_are_refused(
    hyber: MockHyberClient, text: str
) -> None:
    with pytest.raises(MockHyberError) as refused:
        hyber.set_scenarios(text)
    assert refused.value.status_code == 400


# -- provider endpoints and inspection ------------------------------------------------------


def test_send_single_and_inspect_the_message(hyber: MockHyberClient) -> None:
    message_id = hyber.send_single(single(DELIVERED, extra_id="ORDER-1", tag="t1"))
    message = hyber.message(message_id)
    assert isinstance(message, MessageInfo)
    assert (message.phone_number, message.extra_id) == (str(DELIVERED), "ORDER-1")
    assert message.state in ("pending", "active")  # the engine starts it in the background
    assert message.channels == ("viber", "sms")
    assert message.accepted and not message.final
    assert message.plan is not None and message.plan.source == f"magic {DELIVERED}"
    assert [m.event for m in message.plan.moments] == ["start", "delivered"]
    assert message.texts == {"viber": "Hello", "sms": "Hello"}
    hyber.advance(1)
    delivered = hyber.message(message_id)
    assert delivered.final and delivered.delivered_via == "viber"
    assert delivered.report["status"] == 2
    assert delivered.advanced_report is not None
    assert delivered.advanced_report["delivered_via"] == "viber"


def test_send_batch_jobs_and_status(hyber: MockHyberClient) -> None:
    job_id = hyber.send_batch(batch(DELIVERED, FALLBACK, tag="promo"))
    listed = hyber.jobs()
    assert [job.job_id for job in listed] == [job_id]
    assert isinstance(listed[0], JobInfo)
    assert (listed[0].kind, listed[0].message_count, listed[0].tag) == ("batch", 2, "promo")
    assert listed[0].messages is None
    assert hyber.jobs(tag="other") == []
    assert len(hyber.jobs(kind="batch")) == 1
    job = hyber.job(job_id)
    assert job.message_count == 2 and job.messages is not None
    assert {m.phone_number for m in job.messages} == {str(DELIVERED), str(FALLBACK)}
    hyber.advance(62)
    assert hyber.job(job_id).states == {"delivered": 2}
    status = hyber.status(job_id)
    assert [item["status"] for item in status["messages"]] == [2, 2]


def test_sync_batch_answers_per_recipient(hyber: MockHyberClient) -> None:
    answer = hyber.send_batch(batch(DELIVERED, REJECTED), sync=True)
    assert [(a.phone_number, a.accepted) for a in answer] == [
        (str(DELIVERED), True),
        (str(REJECTED), False),
    ]
    assert answer[1].error_code == 36024
    assert hyber.messages(status="rejected")[0].phone_number == str(REJECTED)


def test_send_broadcast_personalises(hyber: MockHyberClient) -> None:
    body = {
        "recipients": [
            {"phone_number": DELIVERED, "name": "Olena"},
            {"phone_number": FALLBACK, "name": "Taras"},
        ],
        "channels": ["sms"],
        "channel_options": {"sms": {"text": "Hi %name%", "alpha_name": "Shop", "ttl": 300}},
    }
    job_id = hyber.send_broadcast(body)
    texts = {m.phone_number: m.texts for m in hyber.messages(job_id=job_id, full=True)}
    assert texts == {str(DELIVERED): {"sms": "Hi Olena"}, str(FALLBACK): {"sms": "Hi Taras"}}
    answer = hyber.send_broadcast(body, sync=True)
    assert [a.accepted for a in answer] == [True, True]


def test_delivery_reports(hyber: MockHyberClient) -> None:
    message_id = hyber.send_single(single(FALLBACK, extra_id="DR-1"))
    hyber.advance(62)
    simple = hyber.dr(message_id)
    assert (simple["status"], simple["last_partner"]) == (2, "sms")
    advanced = hyber.dr(message_id, advanced=True)
    assert [leg["last_partner"] for leg in advanced["reports"]] == ["viber", "sms"]
    assert hyber.dr_external("DR-1") == simple
    assert hyber.dr_external("DR-1", advanced=True) == advanced


def test_message_filters(hyber: MockHyberClient) -> None:
    hyber.send_batch(batch(DELIVERED, FALLBACK, ALL_EXPIRE, tag="a"))
    hyber.send_single(
        {
            "phone_number": DELIVERED,
            "channels": ["sms"],
            "channel_options": {"sms": VIBER_SMS["sms"]},
        }
    )
    hyber.advance(62)

    def phones(**filters: Any) -> list[str]:
        return sorted(m.phone_number for m in hyber.messages(**filters))

    assert phones(phone=DELIVERED) == [str(DELIVERED)] * 2
    assert phones(phone=f"+{DELIVERED}") == [str(DELIVERED)] * 2
    assert phones(tag="a") == sorted(str(p) for p in (DELIVERED, FALLBACK, ALL_EXPIRE))
    assert phones(channel="viber") == phones(tag="a")
    assert phones(via="sms") == sorted([str(DELIVERED), str(FALLBACK)])
    assert phones(via="viber") == [str(DELIVERED)]
    assert phones(status="active") == [str(ALL_EXPIRE)]  # SMS still runs to its ttl
    assert phones(extra_id=f"E-{FALLBACK}") == [str(FALLBACK)]
    assert phones(status="final") == phones(status="delivered")
    assert len(hyber.messages(limit=1)) == 1
    job_id = hyber.jobs(tag="a")[0].job_id
    assert len(hyber.messages(job_id=job_id)) == 3


def test_unknown_ids_and_bad_credentials_raise_hyber_errors(live: LiveServer) -> None:
    with MockHyberClient(live.url) as client:
        with pytest.raises(MockHyberError) as missing:
            client.message("no-such-message")
        assert (missing.value.status_code, missing.value.error_code) == (404, 11009)
        with pytest.raises(MockHyberError) as no_job:
            client.job("no-such-job")
        assert no_job.value.error_code == 11008
    with MockHyberClient(live.url, password="wrong") as intruder:
        with pytest.raises(MockHyberError) as refused:
            intruder.send_single(single(DELIVERED))
        assert (refused.value.status_code, refused.value.error_code) == (401, 10401)


def test_admin_token_is_sent_with_control_calls() -> None:
    settings = Settings(seed=1, admin_token="s3cret", log_level="warning")
    with LiveServer(settings) as server:
        with MockHyberClient(server.url) as anonymous:
            assert anonymous.health().status == "ok"  # the health check stays open
            with pytest.raises(MockHyberError) as refused:
                anonymous.clock()
            assert refused.value.status_code == 401
        with MockHyberClient(server.url, admin_token="s3cret") as admin:
            assert admin.clock().client_id == "1001"
            assert admin.set_scenarios("rules: []").rules == ()  # with its own headers too
            admin.send_single(single(DELIVERED))  # provider calls keep their Basic auth
            assert len(admin.messages()) == 1


# -- waits ----------------------------------------------------------------------------------


def test_wait_for_message_returns_as_soon_as_one_matches(
    hyber: MockHyberClient, live: LiveServer
) -> None:
    hyber.send_single(single(DELIVERED))

    def advance_soon() -> None:
        time.sleep(0.3)
        with MockHyberClient(live.url) as helper:
            helper.advance(1)

    helper = threading.Thread(target=advance_soon)
    started = time.monotonic()
    helper.start()
    found = hyber.wait_for_message(DELIVERED, status="delivered", timeout=20)
    elapsed = time.monotonic() - started
    helper.join(timeout=10)
    assert found is not None and found.state == "delivered"
    assert 0.25 < elapsed < 5  # woken by the change, far from the 20 s timeout


def test_wait_for_status_on_a_running_clock(hyber: MockHyberClient) -> None:
    hyber.set_speed(20)
    hyber.resume()
    hyber.send_single(single(DELIVERED))
    started = time.monotonic()
    message = hyber.wait_for_status(DELIVERED, "delivered", timeout=10, via="viber")
    assert message.delivered_via == "viber"
    assert time.monotonic() - started < 5


def test_wait_for_messages_waits_for_a_count(hyber: MockHyberClient, live: LiveServer) -> None:
    job_id = hyber.send_batch(batch(DELIVERED, FALLBACK, ALL_EXPIRE))
    assert len(hyber.wait_for_messages(2, 0.2, job_id=job_id, status="final")) == 0
    hyber.advance(62)
    started = time.monotonic()
    found = hyber.wait_for_messages(2, 20, job_id=job_id, status="final")
    assert {m.phone_number for m in found} == {str(DELIVERED), str(FALLBACK)}
    assert time.monotonic() - started < 5  # already there: answered at once

    def advance_soon() -> None:
        time.sleep(0.3)
        with MockHyberClient(live.url) as helper:
            helper.advance(300)

    helper = threading.Thread(target=advance_soon)
    helper.start()
    everything = hyber.wait_for_messages(3, 20, job_id=job_id, status="final")
    helper.join(timeout=10)
    assert len(everything) == 3
    assert time.monotonic() - started < 5


def test_wait_for_message_times_out_cleanly(hyber: MockHyberClient) -> None:
    hyber.send_single(single(ALL_EXPIRE))
    started = time.monotonic()
    assert hyber.wait_for_message(ALL_EXPIRE, status="delivered", timeout=0.5) is None
    assert 0.45 < time.monotonic() - started < 5


def test_wait_for_status_timeout_says_what_happened(hyber: MockHyberClient) -> None:
    hyber.send_single(single(ALL_EXPIRE))
    with pytest.raises(MockHyberTimeout) as timed_out:
        hyber.wait_for_status(ALL_EXPIRE, "delivered", timeout=0.2)
    assert isinstance(timed_out.value, TimeoutError)
    text = str(timed_out.value)
    assert f"no message to {ALL_EXPIRE} reached delivered within 0.2 s" in text
    assert "state active" in text and "magic 380000000003" in text
    assert "advance the clock" in text


def test_assert_delivered(hyber: MockHyberClient) -> None:
    hyber.send_single(single(FALLBACK))
    hyber.advance(62)
    assert hyber.assert_delivered(FALLBACK, via="sms").delivered_via == "sms"
    assert hyber.assert_delivered(FALLBACK).delivered_via == "sms"
    with pytest.raises(AssertionError) as wrong:
        hyber.assert_delivered(FALLBACK, via="viber")
    text = str(wrong.value)
    assert "no message to 380000000002 was delivered via viber" in text
    assert "state delivered, delivered via sms" in text
    assert "expired viber" in text
    with pytest.raises(AssertionError, match="no message to 380961111111 was sent"):
        hyber.assert_delivered(380961111111)


# -- transitions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state", "code"),
    [("delivered", "delivered", 23043), ("failed", "failed", 36036), ("expired", "failed", 35035)],
)
def test_transition_to_a_final_status(
    hyber: MockHyberClient, status: Any, state: str, code: int
) -> None:
    message_id = hyber.send_single(single(PLAIN))
    forced = hyber.transition(message_id, status)
    assert forced.state == state
    assert forced.report["hyber_status"] == code
    with pytest.raises(MockHyberError) as refused:
        hyber.transition(message_id, "delivered")
    assert (refused.value.status_code, refused.value.error_code) == (409, 10409)
    assert "already final" in refused.value.error_text


def test_transition_on_a_channel_with_a_code(hyber: MockHyberClient) -> None:
    message_id = hyber.send_single(single(PLAIN))
    hyber.transition(message_id, "failed", code=36037)
    other_id = hyber.send_single(single(PLAIN))
    with pytest.raises(MockHyberError) as wrong_channel:
        hyber.transition(other_id, "delivered", channel="sms")  # viber is in progress
    assert wrong_channel.value.status_code == 409
    assert hyber.message(message_id).report["hyber_status"] == 36037


def test_transition_seen_and_clicked(hyber: MockHyberClient) -> None:
    options = {"viber": {**VIBER_SMS["viber"], "ctr": True}, "sms": VIBER_SMS["sms"]}
    message_id = hyber.send_single(single(PLAIN, channel_options=options))
    with pytest.raises(MockHyberError, match="only a delivered message"):
        hyber.transition(message_id, "seen")
    hyber.transition(message_id, "delivered")
    seen = hyber.transition(message_id, "seen")
    assert (seen.report["substatus"], seen.report["hyber_status"]) == (24, 24033)
    clicked = hyber.transition(message_id, "clicked", clicks=3)
    assert clicked.report["clicks"] == 3


# -- callbacks, faults, inbound -------------------------------------------------------------


def test_callbacks_and_redeliver(hyber: MockHyberClient, receiver: CallbackReceiver) -> None:
    message_id = hyber.send_single(single(FALLBACK, callback_url=receiver.url))
    hyber.advance(62)  # waits until the due callbacks were tried
    assert [r["message_id"] for r in receiver.reports] == [message_id]
    assert receiver.reports[0]["sent_via"] == "sms"
    [delivery] = hyber.callbacks(message_id=message_id)
    assert (delivery.kind, delivery.status, delivery.url) == ("report", "delivered", receiver.url)
    assert delivery.attempts[0].response_code == 200
    assert delivery.body["message_id"] == message_id
    assert hyber.callbacks(message_id=message_id, body=False)[0].body is None
    assert hyber.callbacks(status="failed") == []
    again = hyber.redeliver(delivery.id)
    assert again.id == delivery.id
    receiver.wait_for(2, timeout=5)
    hyber.advance(0)  # waits for the attempt in flight to be recorded
    assert hyber.callbacks(message_id=message_id)[0].attempt_count == 2


def test_receiver_status_sequence_drives_retries(
    hyber: MockHyberClient, receiver: CallbackReceiver
) -> None:
    receiver.respond_with(500, 503)
    hyber.send_single(single(DELIVERED, callback_url=receiver.url))
    hyber.advance(1)
    hyber.advance(12)  # first retry after 10 s (± 10 % jitter)
    hyber.advance(25)  # second retry after 20 s
    assert [request.status for request in receiver.requests] == [500, 503, 200]
    [delivery] = hyber.callbacks()
    assert delivery.status == "delivered"
    assert [a.response_code for a in delivery.attempts] == [500, 503, 200]


def test_inbound_reply_reaches_the_inbound_url(
    hyber: MockHyberClient, receiver: CallbackReceiver
) -> None:
    message_id = hyber.send_single(single(DELIVERED))
    hyber.advance(1)
    delivery = hyber.inbound("Yes, please", message_id=message_id)
    assert delivery.kind == "inbound"
    [reply] = receiver.wait_for(1, timeout=5)
    assert receiver.requests[0].path == "/inbound"
    assert reply["text_from_subscriber"] == "Yes, please"
    assert reply["message_id"] == message_id
    hyber.inbound(phone=380961111111, channel="whatsapp", image_url="https://x.test/a.png")
    assert receiver.wait_for(2, timeout=5)[1]["image_url"] == "https://x.test/a.png"
    with pytest.raises(MockHyberError):
        hyber.inbound("no one to answer")


def test_api_fault_status_answers_a_hyber_body(hyber: MockHyberClient) -> None:
    faults = hyber.set_faults(api=[ApiFault(endpoint="batch", status=503)])
    assert faults.api[0].status == 503
    with pytest.raises(MockHyberError) as refused:
        hyber.send_batch(batch(DELIVERED))
    assert (refused.value.status_code, refused.value.error_code) == (503, 10503)
    assert refused.value.error_text == "Injected fault: HTTP 503"
    hyber.send_single(single(DELIVERED))  # other endpoints are untouched
    assert len(hyber.messages()) == 1  # the refused batch was never accepted
    hyber.set_faults(api=[{"status": 429, "error_code": 42, "error_text": "slow down"}])
    with pytest.raises(MockHyberError) as custom:
        hyber.send_single(single(DELIVERED))
    assert (custom.value.status_code, custom.value.error_code) == (429, 42)
    assert custom.value.error_text == "slow down"


def test_api_fault_latency(hyber: MockHyberClient) -> None:
    message_id = hyber.send_single(single(DELIVERED))
    hyber.set_faults(api=[{"endpoint": "dr", "latency": 0.4}])
    started = time.monotonic()
    hyber.dr(message_id)
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    hyber.message(message_id)  # the control API is never faulted
    assert time.monotonic() - started < 0.4


def test_api_fault_drop_breaks_the_connection(hyber: MockHyberClient) -> None:
    hyber.set_faults(api=[{"endpoint": "single", "drop": True, "count": 1}])
    # Mostly "peer closed connection without sending complete message body"; now and then
    # the close resets the connection first (see the drop in api/fault_injection.py).
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        hyber.send_single(single(DELIVERED))
    assert hyber.messages() == []
    hyber.send_single(single(DELIVERED))  # count 1: the next one goes through


def test_api_fault_count(hyber: MockHyberClient) -> None:
    hyber.set_faults(api=[{"status": 500, "count": 2}])
    outcomes = []
    for _ in range(3):
        try:
            hyber.send_single(single(DELIVERED))
            outcomes.append("ok")
        except MockHyberError as error:
            outcomes.append(error.status_code)
    assert outcomes == [500, 500, "ok"]
    assert hyber.faults().api[0].remaining == 0


def test_api_fault_probability_is_seeded(hyber: MockHyberClient) -> None:
    def pattern() -> list[bool]:
        hyber.set_faults(api=[{"endpoint": "dr", "status": 500, "probability": 0.5}])
        message_id = hyber.send_single(single(DELIVERED))
        hits = []
        for _ in range(24):
            try:
                hyber.dr(message_id)
                hits.append(False)
            except MockHyberError:
                hits.append(True)
        return hits

    first = pattern()
    assert 3 < sum(first) < 21
    hyber.reset()
    assert pattern() == first


def test_callback_faults_and_clear(hyber: MockHyberClient, receiver: CallbackReceiver) -> None:
    faults = hyber.set_faults(callbacks={"drop": 1.0})
    assert faults.callbacks.drop == 1.0
    message_id = hyber.send_single(single(DELIVERED, callback_url=receiver.url))
    hyber.advance(1)
    [delivery] = hyber.callbacks(message_id=message_id)
    assert delivery.status == "dropped"
    assert receiver.requests == []
    cleared = hyber.clear_faults()
    assert cleared.api == () and cleared.callbacks.drop == 0
    assert hyber.faults() == cleared


# -- the async client -----------------------------------------------------------------------


def test_async_client_shares_the_operations(live: LiveServer, hyber: MockHyberClient) -> None:
    async def scenario() -> None:
        async with AsyncMockHyberClient(live.url) as client:
            assert (await client.health()).status == "ok"
            message_id = await client.send_single(single(FALLBACK))
            job_id = await client.send_batch(batch(DELIVERED))
            assert (await client.clock()).frozen
            await client.advance(62)
            message = await client.wait_for_status(FALLBACK, "delivered", timeout=5)
            assert message.message_id == message_id
            assert (await client.assert_delivered(FALLBACK, via="sms")).delivered_via == "sms"
            with pytest.raises(AssertionError, match="delivered via sms"):
                await client.assert_delivered(FALLBACK, via="viber")
            assert (await client.status(job_id))["messages"][0]["status"] == 2
            assert len(await client.messages()) == 2
            with pytest.raises(MockHyberError) as missing:
                await client.message("nope")
            assert missing.value.status_code == 404
            assert await client.wait_for_message(ALL_EXPIRE, timeout=0.1) is None
            assert len(await client.wait_for_messages(2, 1, status="delivered")) == 2
            assert await client.reset() == ["1001"]

    asyncio.run(scenario())


# -- the callback receiver ------------------------------------------------------------------


def test_receiver_flattens_batches_and_records_requests() -> None:
    with CallbackReceiver(statuses=[201]) as receiver:
        assert receiver.url.startswith("http://127.0.0.1:")
        httpx.post(receiver.url, json=[{"n": 1}, {"n": 2}], headers={"X-Test": "a"})
        httpx.post(receiver.url_for("/other"), json={"n": 3})
        assert receiver.wait_for(3, timeout=5) == [{"n": 1}, {"n": 2}, {"n": 3}]
        first, second = receiver.requests
        assert (first.status, second.status) == (201, 200)
        assert first.header("x-test") == "a" and second.path == "/other"
        assert first.reports == [{"n": 1}, {"n": 2}]
        receiver.check()
        receiver.clear()
        assert receiver.reports == [] and receiver.requests == []


def test_receiver_wait_for_times_out() -> None:
    with CallbackReceiver() as receiver:
        started = time.monotonic()
        with pytest.raises(MockHyberTimeout, match="got 0 of 1 reports"):
            receiver.wait_for(1, timeout=0.2)
        assert time.monotonic() - started < 2


def test_receiver_check_reraises_failures_of_its_thread() -> None:
    def handler(request: Any) -> int | None:
        assert request.body != {"bad": True}, "a bad report"
        return None

    with CallbackReceiver(handler=handler) as receiver:
        assert httpx.post(receiver.url, json={"bad": True}).status_code == 500
        assert httpx.post(receiver.url, content=b"not json").status_code == 200
        assert httpx.get(receiver.url).status_code == 405
        with pytest.raises(CallbackReceiverError, match="3 failure") as failed:
            receiver.check()
        assert isinstance(failed.value.__cause__, AssertionError)
        assert "a bad report" in str(failed.value)
