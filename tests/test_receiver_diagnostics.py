"""A CallbackReceiver.wait_for that times out says why, from the watched account's clock: frozen
(when the next report is due, how far to advance) or running, or no report scheduled at all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mock_hyber import LiveServer, MockHyberClient
from mock_hyber.testing.models import Clock, MockHyberTimeout
from mock_hyber.testing.receiver import CallbackReceiver
from tests.conftest import ALICE

pytest_plugins = ["pytester"]


def single(phone: str, callback_url: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "phone_number": phone,
        "channels": ["sms"],
        "channel_options": {"sms": {"text": "Hello", "alpha_name": "Shop", "ttl": 300}},
    }
    if callback_url:
        body["callback_url"] = callback_url
    return body


@pytest.fixture
def hyber(server: LiveServer) -> Iterator[MockHyberClient]:
    with MockHyberClient(server.url, "1001", *ALICE) as client:
        client.reset()
        yield client


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as receiver:
        yield receiver


def test_a_frozen_clock_says_when_the_report_is_due_and_how_far_to_advance(
    hyber: MockHyberClient, receiver: CallbackReceiver
) -> None:
    receiver.watch(hyber)
    hyber.send_single(single("380000000001", receiver.url))  # delivered 1 s after sending
    now = hyber.clock()
    with pytest.raises(MockHyberTimeout) as timed_out:
        receiver.wait_for(1, timeout=0.3)
    message = str(timed_out.value)
    assert message.startswith("the callback receiver got 0 of 1 reports within 0.3 s: []\n")
    assert f"account 1001's clock is frozen at {now.now}" in message
    assert "advance by 1 s (mock_hyber.advance(1))" in message
    hyber.advance(1)
    assert len(receiver.wait_for(1, timeout=10)) == 1  # the advice was right


def test_no_scheduled_report_is_said_too(
    hyber: MockHyberClient, receiver: CallbackReceiver
) -> None:
    receiver.watch(hyber)
    hyber.send_single(single("380000000001"))  # no callback_url
    with pytest.raises(MockHyberTimeout, match="no report is scheduled"):
        receiver.wait_for(1, timeout=0.1)


def test_an_unwatched_receiver_says_only_what_arrived(receiver: CallbackReceiver) -> None:
    with pytest.raises(MockHyberTimeout) as timed_out:
        receiver.wait_for(2, timeout=0.1, requests=True)
    assert str(timed_out.value) == "the callback receiver got 0 of 2 requests within 0.1 s: []"


class _Broken:
    def clock(self) -> Clock:
        raise ConnectionError("gone")


def test_an_unreadable_clock_does_not_hide_the_timeout(receiver: CallbackReceiver) -> None:
    receiver.watch(_Broken())
    with pytest.raises(MockHyberTimeout, match=r"(?s)got 0 of 1.*could not be read.*gone"):
        receiver.wait_for(1, timeout=0.1)


def test_a_running_clock_says_how_far_ahead_the_report_is() -> None:
    from mock_hyber.testing.receiver import explain_clock

    clock = Clock(
        client_id="7",
        now="2026-01-01T00:00:00.000Z",
        now_ms=1_767_225_600_000,
        speed=2,
        frozen=False,
        pending_events=1,
        next_callback_ms=1_767_225_660_000,
    )
    assert explain_clock(clock) == (
        "account 7's clock runs at x2 (now 2026-01-01T00:00:00.000Z); the next report is due"
        " at 2026-01-01T00:01:00.000+00:00, 60 virtual s from now"
    )


def test_the_plugin_watches_the_tests_account(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(
        """
import pytest

def test_waits_on_a_frozen_clock(mock_hyber, callback_receiver):
    mock_hyber.send_single({
        "phone_number": "380000000001", "channels": ["sms"],
        "channel_options": {"sms": {"text": "Hi", "alpha_name": "Shop", "ttl": 300}},
        "callback_url": callback_receiver.url,
    })
    callback_receiver.wait_for(1, timeout=0.3)
"""
    )
    quiet = "ignore::pytest.PytestAssertRewriteWarning"
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", quiet)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*clock is frozen at *advance by 1 s*"])
