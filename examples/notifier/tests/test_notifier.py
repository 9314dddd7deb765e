"""The notifier app against mock_hyber: deliveries, the Viber-to-SMS fallback, rejected
numbers, personalised broadcasts, retries of API errors and callbacks, and the app's own DR
endpoint. The clock is frozen (the plugin's default): time moves only when a test advances it."""

from __future__ import annotations

import pytest
from app import CallbackServer, DeliveryLog, Notifier, NotifierError, User
from users import DELIVERED, FALLBACK, IVAN, NOBODY, NOTHING, OLENA, TARAS, notifier_for

from mock_hyber import CallbackReceiver, MockHyberClient


def test_delivered_on_viber(notifier: Notifier, mock_hyber: MockHyberClient) -> None:
    job_id = notifier.send_batch([OLENA], "Your order has shipped")
    assert notifier.job_states(job_id) == {OLENA.id: "pending"}
    mock_hyber.advance(1)
    mock_hyber.assert_delivered(DELIVERED, via="viber")
    assert notifier.job_states(job_id) == {OLENA.id: "delivered"}


def test_viber_expiry_falls_back_to_sms(
    notifier: Notifier, mock_hyber: MockHyberClient, callback_receiver: CallbackReceiver
) -> None:
    notifier.send_batch([TARAS], "Your order has shipped")
    mock_hyber.advance(59)
    assert callback_receiver.reports == []  # Viber is still trying
    mock_hyber.advance(3)  # Viber's ttl ran out at 60 s; SMS delivered at 62 s
    message = mock_hyber.assert_delivered(FALLBACK, via="sms")
    [report] = callback_receiver.wait_for(1, timeout=5)
    assert (report["extra_id"], report["sent_via"], report["status"]) == (TARAS.id, "sms", 2)
    assert report["message_id"] == message.message_id


def test_app_endpoint_records_each_users_state(
    mock_hyber: MockHyberClient, app_endpoint: CallbackServer, delivery_log: DeliveryLog
) -> None:
    app = notifier_for(mock_hyber, app_endpoint.url)
    app.send_batch([OLENA, TARAS, IVAN], "Sale starts today")
    app.close()
    mock_hyber.advance(62)  # returns once the due reports were POSTed
    assert delivery_log.states == {OLENA.id: "delivered", TARAS.id: "delivered"}
    assert delivery_log.channels == {OLENA.id: "viber", TARAS.id: "sms"}
    mock_hyber.advance(300)  # Ivan's SMS expires too
    assert delivery_log.state(IVAN.id) == "failed"
    mock_hyber.wait_for_status(NOTHING, "failed", timeout=1)


def test_incorrect_number_is_rejected_at_once(notifier: Notifier) -> None:
    accepted = notifier.send_batch_sync([OLENA, NOBODY], "Hello")
    assert accepted == {OLENA.id: True, NOBODY.id: False}


def test_broadcast_is_personalised(notifier: Notifier, mock_hyber: MockHyberClient) -> None:
    job_id = notifier.send_broadcast("Hi %name%, your code is %user_id%", [OLENA, TARAS])
    texts = {m.extra_id: m.texts for m in mock_hyber.messages(job_id=job_id, full=True)}
    hello = "Hi Olena, your code is u-olena"
    assert texts[OLENA.id] == {"viber": hello, "sms": hello}
    assert texts[TARAS.id]["sms"] == "Hi Taras, your code is u-taras"


def test_a_server_error_is_retried(notifier: Notifier, mock_hyber: MockHyberClient) -> None:
    mock_hyber.set_faults(api=[{"endpoint": "batch", "status": 503, "count": 1}])
    notifier.send_batch([OLENA], "Hello")
    assert len(mock_hyber.jobs()) == 1  # the refused try was never accepted: no duplicate
    assert mock_hyber.faults().api[0].remaining == 0


def test_a_dropped_connection_is_retried(notifier: Notifier, mock_hyber: MockHyberClient) -> None:
    mock_hyber.set_faults(api=[{"endpoint": "batch", "drop": True, "count": 2}])
    notifier.send_batch([OLENA], "Hello")
    assert len(mock_hyber.jobs()) == 1


def test_gives_up_when_hyber_keeps_failing(notifier: Notifier, mock_hyber: MockHyberClient) -> None:
    mock_hyber.set_faults(api=[{"endpoint": "batch", "status": 502}])
    with pytest.raises(NotifierError, match="after 3 tries: HTTP 502"):
        notifier.send_batch([OLENA], "Hello")
    assert mock_hyber.jobs() == []


def test_reports_are_retried_until_the_app_answers(
    notifier: Notifier, mock_hyber: MockHyberClient, callback_receiver: CallbackReceiver
) -> None:
    callback_receiver.respond_with(500)  # the app is down for the first report
    notifier.send_batch([OLENA], "Hello")
    mock_hyber.advance(1)
    assert [r.status for r in callback_receiver.requests] == [500]
    mock_hyber.advance(12)  # the first retry comes 10 s later (± 10 % jitter)
    assert [r.status for r in callback_receiver.requests] == [500, 200]
    [delivery] = mock_hyber.callbacks()
    assert delivery.status == "delivered" and delivery.attempt_count == 2


def test_forced_failure_reaches_the_app(
    notifier: Notifier, mock_hyber: MockHyberClient, callback_receiver: CallbackReceiver
) -> None:
    petro = User("u-petro", "380501112233", "Petro")  # no magic: forced by the test
    notifier.send_batch([petro], "Hello")
    [message] = mock_hyber.messages(phone=petro.phone)
    mock_hyber.transition(message.message_id, "failed", code=36037)
    [report] = callback_receiver.wait_for(1, timeout=5)
    assert (report["extra_id"], report["status"], report["hyber_status"]) == (petro.id, 3, 36037)


def test_one_report_per_post_outside_the_batched_folder(
    notifier: Notifier, mock_hyber: MockHyberClient, callback_receiver: CallbackReceiver
) -> None:
    notifier.send_batch([OLENA], "Your order has shipped")
    mock_hyber.advance(10)
    [request] = callback_receiver.wait_for(1, timeout=5, requests=True)
    assert isinstance(request.body, dict)  # tests/batched's settings stay in tests/batched
