"""Delivery-report callbacks end to end: a live mock POSTs reports to a real receiver on
127.0.0.1 while the tests drive the virtual clock (RTD chapter 4; the mock's retry policy,
batching, signature and allowlist are its own, documented in docs/callbacks.md)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest

from mock_hyber.callbacks.signing import verify
from tests.callback_helpers import (
    ALL_EXPIRE,
    BLOCKED,
    DELIVERED,
    EXACT_BACKOFF,
    FALLBACK,
    LATE,
    NOT_A_USER,
    PLAIN_PROFILE,
    REJECTED,
    SEEN,
    START_MS,
    Mock,
    batch_body,
    mock_server,
)
from tests.receiver import DownReceiver, Receiver

RANDOM_PHONES = [
    "380501112233",
    "380671234567",
    "380931112244",
    "380971234568",
    "380631119900",
    "380661230001",
    "380991110022",
]


def accepted_ids(items: list[dict]) -> list[str]:
    return [item["message_id"] for item in items if item["accepted"]]


# -- one report per message -----------------------------------------------------------------


def test_batch_gives_one_report_per_accepted_message_matching_the_simple_dr() -> None:
    phones = [DELIVERED, FALLBACK, ALL_EXPIRE, NOT_A_USER, BLOCKED, REJECTED, "12345"]
    phones += RANDOM_PHONES
    with Receiver() as receiver, mock_server() as mock:
        mock.put_scenarios(PLAIN_PROFILE)
        items = mock.send_batch(receiver.url, phones)
        accepted = {item["message_id"]: item for item in items if item["accepted"]}
        rejected = {item["message_id"] for item in items if not item["accepted"]}
        assert len(accepted) == 12 and len(rejected) == 2

        mock.advance(400)  # every channel of every message has ended by now (ttl 60 + 300)
        mock.advance(400)  # and nothing more is reported later
        reports = receiver.reports()

        assert sorted(report["message_id"] for report in reports) == sorted(accepted)
        assert not rejected & {report["message_id"] for report in reports}
        for request in receiver.requests:
            assert request.method == "POST"
            assert request.path == "/dr"
            assert request.header("Content-Type") == "application/json"
            assert isinstance(request.body, dict)  # single mode: one object per POST
        for report in reports:
            item = accepted[report["message_id"]]
            simple = mock.simple_dr(report["message_id"])
            assert report["extra_id"] == item["extra_id"] == simple["extra_id"]
            assert report["number"] == int(item["phone_number"])  # an int in single mode
            assert isinstance(report["number"], int)
            for field in ("status", "substatus", "hyber_status", "time"):
                assert report[field] == simple[field], (field, report, simple)
            assert report["sent_via"] == simple["last_partner"]
            for field in ("total_sms_parts", "delivered_sms_parts"):
                assert report.get(field) == simple.get(field), (field, report, simple)
            assert report["status"] in (2, 3)  # only final statuses are pushed
            # milliseconds since the epoch, within the 800 s of virtual time that passed
            assert isinstance(report["time"], int)
            assert START_MS <= report["time"] <= START_MS + 800_000

        log = mock.callbacks(kind="report")
        assert len(log) == 12
        assert sorted(entry["message_ids"][0] for entry in log) == sorted(accepted)
        for entry in log:
            assert entry["status"] == "delivered"
            assert entry["response_code"] == 200
            assert entry["attempt_count"] == 1
            assert entry["url"] == receiver.url
            assert entry["body"]["message_id"] == entry["message_ids"][0]


def test_reports_keep_the_callback_urls_path_and_query() -> None:
    with Receiver() as receiver, mock_server() as mock:
        url = receiver.url.replace("/dr", "/hooks/hyber?token=abc&x=1")
        mock.send_batch(url, [DELIVERED])
        mock.advance(1)
        [request] = receiver.requests
        assert request.path == "/hooks/hyber?token=abc&x=1"
        assert mock.callbacks()[0]["url"] == url


def test_no_callback_url_no_report() -> None:
    with Receiver() as receiver, mock_server() as mock:
        mock.send_batch(None, [DELIVERED, BLOCKED])
        mock.advance(10)
        assert receiver.requests == []
        assert mock.callbacks() == []


# -- retries --------------------------------------------------------------------------------


def test_retry_after_server_errors_at_the_backoff_times() -> None:
    with Receiver(statuses=[500, 500, 200]) as receiver, mock_server(**EXACT_BACKOFF) as mock:
        [item] = mock.send_batch(receiver.url, [DELIVERED])
        first = START_MS + 1000  # the message is delivered 1 s in

        mock.advance(1)
        assert len(receiver.requests) == 1
        [entry] = mock.callbacks()
        assert entry["status"] == "pending"
        assert entry["attempts"][0]["at_ms"] == first
        assert entry["attempts"][0]["response_code"] == 500
        assert entry["error"] == "HTTP 500"
        assert entry["next_attempt_ms"] == first + 10_000

        mock.advance(9)  # less than the backoff: no retry yet
        assert len(receiver.requests) == 1
        mock.advance(1)
        assert len(receiver.requests) == 2
        [entry] = mock.callbacks()
        assert entry["attempts"][1]["at_ms"] == first + 10_000
        assert entry["next_attempt_ms"] == first + 30_000  # then 10 x 2

        mock.advance(19)
        assert len(receiver.requests) == 2
        mock.advance(1)
        assert len(receiver.requests) == 3

        [entry] = mock.callbacks()
        assert entry["status"] == "delivered"
        assert entry["attempt_count"] == 3
        assert [a["at_ms"] for a in entry["attempts"]] == [first, first + 10_000, first + 30_000]
        assert [a["response_code"] for a in entry["attempts"]] == [500, 500, 200]
        assert entry["response_code"] == 200 and entry["error"] is None
        assert entry["next_attempt_ms"] is None
        # the same report each time, the attempt number in a header
        assert len({request.raw for request in receiver.requests}) == 1
        assert receiver.requests[0].body["message_id"] == item["message_id"]
        assert [r.header("X-Mock-Hyber-Attempt") for r in receiver.requests] == ["1", "2", "3"]

        mock.advance(600)
        assert len(receiver.requests) == 3


def test_retry_times_with_jitter_stay_within_ten_percent() -> None:
    settings = {**EXACT_BACKOFF, "callback_jitter": 0.1}
    with Receiver(statuses=[500, 500, 200]) as receiver, mock_server(**settings) as mock:
        mock.send_batch(receiver.url, [DELIVERED])
        mock.advance(1)
        first = START_MS + 1000
        second = mock.callbacks()[0]["next_attempt_ms"]
        assert 9_000 <= second - first <= 11_000

        mock.advance(8.9)  # below the smallest jittered wait
        assert len(receiver.requests) == 1
        # exactly to the scheduled time (+0.4 ms against float rounding of the advance)
        mock.advance((second - mock.now_ms()) / 1000 + 0.0004)
        assert len(receiver.requests) == 2
        [entry] = mock.callbacks()
        assert entry["attempts"][1]["at_ms"] == second
        third = entry["next_attempt_ms"]
        assert 18_000 <= third - second <= 22_000
        assert (second - first, third - second) != (10_000, 20_000)  # jitter is applied

        mock.advance((third - mock.now_ms()) / 1000 + 0.0004)
        [entry] = mock.callbacks()
        assert entry["status"] == "delivered"
        assert [a["at_ms"] for a in entry["attempts"]] == [first, second, third]


def test_a_retry_is_due_after_fractional_advances_cover_the_backoff() -> None:
    with Receiver(statuses=[500, 200]) as receiver, mock_server(**EXACT_BACKOFF) as mock:
        mock.send_batch(receiver.url, [DELIVERED])
        mock.advance(1)
        mock.advance(9)
        for _ in range(10):
            mock.advance(0.1)  # 10 s in all since the first attempt
        assert mock.now_ms() == START_MS + 11_000
        assert len(receiver.requests) == 2


def test_backoff_is_capped_at_backoff_max() -> None:
    settings = {
        **EXACT_BACKOFF,
        "callback_backoff_factor": 10,
        "callback_backoff_max": 50,
        "callback_max_attempts": 4,
    }
    with DownReceiver() as down, mock_server(**settings) as mock:
        mock.send_batch(down.url, [DELIVERED])
        mock.advance(1)
        for seconds in (10, 50, 50):  # 10, then 100 and 1000 capped at 50
            assert mock.callbacks()[0]["next_attempt_ms"] == mock.now_ms() + seconds * 1000
            mock.advance(seconds)
        [entry] = mock.callbacks()
        first = START_MS + 1000
        assert [a["at_ms"] - first for a in entry["attempts"]] == [0, 10_000, 60_000, 110_000]
        assert entry["status"] == "failed"


def test_attempt_timeout_is_recorded_and_retried() -> None:
    settings = {**EXACT_BACKOFF, "callback_timeout": 0.3}
    with Receiver(delay=1.0) as receiver, mock_server(**settings) as mock:
        mock.send_batch(receiver.url, [DELIVERED])
        mock.advance(1)
        [entry] = mock.callbacks()
        assert entry["status"] == "pending"
        assert entry["response_code"] is None
        assert "Timeout" in entry["error"]
        receiver.respond([], delay=0.0)
        mock.advance(10)
        [entry] = mock.callbacks()
        assert entry["status"] == "delivered"
        assert entry["attempt_count"] == 2


def test_receiver_down_fails_after_max_attempts_then_redeliver_succeeds() -> None:
    down = DownReceiver()
    with mock_server(callback_max_attempts=3, **EXACT_BACKOFF) as mock:
        [item] = mock.send_batch(down.url, [DELIVERED])
        mock.advance(1)
        mock.advance(10)
        [entry] = mock.callbacks()
        assert entry["status"] == "pending" and entry["attempt_count"] == 2
        mock.advance(20)
        [entry] = mock.callbacks()
        assert entry["status"] == "failed"
        assert entry["attempt_count"] == 3
        assert entry["response_code"] is None
        assert entry["error"]  # the connection error, as text
        assert all(attempt["error"] for attempt in entry["attempts"])
        assert entry["next_attempt_ms"] is None
        assert entry["message_ids"] == [item["message_id"]]

        mock.advance(3600)  # nothing else is pending: no 4th attempt, ever
        assert mock.callbacks(status="pending") == []
        assert mock.callbacks(status="queued") == []
        assert mock.callbacks()[0]["attempt_count"] == 3
        assert [e["id"] for e in mock.callbacks(status="failed")] == [entry["id"]]

        down.close()
        with Receiver(port=down.port) as receiver:  # the receiver comes up on that port
            response = mock.http.post(f"/_mock/callbacks/{entry['id']}/redeliver")
            assert response.status_code == 200, response.text
            mock.advance(0)  # wait for the attempt due now
            receiver.wait_for(1, timeout=5)
            [again] = mock.callbacks()
            assert again["status"] == "delivered"
            assert again["attempt_count"] == 4
            assert again["response_code"] == 200
            assert receiver.requests[0].body["message_id"] == item["message_id"]
            assert receiver.requests[0].header("X-Mock-Hyber-Attempt") == "1"


def test_redeliver_while_still_down_runs_a_new_round_of_attempts() -> None:
    with DownReceiver() as down, mock_server(callback_max_attempts=2, **EXACT_BACKOFF) as mock:
        mock.send_batch(down.url, [DELIVERED])
        mock.advance(1)
        mock.advance(10)
        [entry] = mock.callbacks()
        assert (entry["status"], entry["attempt_count"]) == ("failed", 2)

        response = mock.http.post(f"/_mock/callbacks/{entry['id']}/redeliver")
        assert response.status_code == 200
        mock.advance(0)
        [entry] = mock.callbacks()
        assert (entry["status"], entry["attempt_count"]) == ("pending", 3)
        mock.advance(10)
        [entry] = mock.callbacks()
        assert (entry["status"], entry["attempt_count"]) == ("failed", 4)


def test_redeliver_unknown_delivery_is_404() -> None:
    with mock_server() as mock:
        response = mock.http.post("/_mock/callbacks/987654/redeliver")
        assert response.status_code == 404
        assert set(response.json()) == {"error_code", "error_text"}


# -- batched mode -----------------------------------------------------------------------------


def test_batched_mode_sends_arrays_of_batch_size_and_the_rest_after_the_period() -> None:
    settings = {"callback_mode": "batched", "callback_batch_size": 3, "callback_batch_period": 2}
    with Receiver() as receiver, mock_server(**settings) as mock:
        items = mock.send_batch(receiver.url, [DELIVERED] * 7 + [REJECTED])
        ids = accepted_ids(items)
        assert len(ids) == 7

        mock.advance(1)  # all 7 delivered at +1 s: two full batches go at once
        assert [len(body) for body in receiver.bodies] == [3, 3]
        mock.advance(1)  # the rest waits for the period (2 s from its first report)
        assert len(receiver.requests) == 2
        mock.advance(1)
        assert [len(body) for body in receiver.bodies] == [3, 3, 1]
        mock.advance(60)
        assert len(receiver.requests) == 3

        reports = receiver.reports()
        assert sorted(report["message_id"] for report in reports) == sorted(ids)
        for report in reports:
            assert report["number"] == DELIVERED  # a string in batched reports ("auto")
            assert (report["status"], report["hyber_status"], report["sent_via"]) == (
                2,
                23033,
                "viber",
            )
        for request in receiver.requests:
            assert request.header("Content-Type") == "application/json"
            assert isinstance(request.body, list)

        log = mock.callbacks()
        assert [entry["kind"] for entry in log] == ["batch"] * 3
        assert [len(entry["message_ids"]) for entry in log] == [3, 3, 1]
        assert [entry["status"] for entry in log] == ["delivered"] * 3
        assert log[2]["attempts"][0]["at_ms"] == START_MS + 3000
        assert mock.callbacks(kind="report") == []


def test_batch_period_counts_from_the_first_report_of_each_batch() -> None:
    rules = [
        {"match": {"phone": "38067000000[123]"}, "legs": [{"outcome": "delivered", "after": 1}]},
        {"match": {"phone": "380670000004"}, "legs": [{"outcome": "delivered", "after": 2}]},
        {"match": {"phone": "380670000005"}, "legs": [{"outcome": "delivered", "after": 3.5}]},
    ]
    settings = {"callback_mode": "batched", "callback_batch_size": 3, "callback_batch_period": 2}
    with Receiver() as receiver, mock_server(**settings) as mock:
        mock.put_scenarios({"rules": rules})
        mock.send_batch(receiver.url, [f"38067000000{n}" for n in range(1, 6)])
        mock.advance(1)  # three reports: a full batch
        assert [len(body) for body in receiver.bodies] == [3]
        mock.advance(1)  # +2 s: the 4th report opens a new batch, due at +4 s
        mock.advance(1)  # +3 s: the full batch's old timer must not flush the new one
        assert [len(body) for body in receiver.bodies] == [3]
        mock.advance(1)  # +4 s: the 5th (at +3.5 s) joined it
        assert [len(body) for body in receiver.bodies] == [3, 2]


def test_an_advance_over_many_reports_fills_every_batch_before_any_goes() -> None:
    """An advance reports what fell due in slices between requests; no batch may leave half
    full meanwhile: 2,000 reports due together go as 20 full batches, on every run."""
    settings = {
        "callback_mode": "batched",
        "callback_batch_size": 100,
        "callback_batch_period": 1,
    }
    with Receiver() as receiver, mock_server(**settings) as mock:
        for _ in range(2):  # 1,000 messages a request (the batch limit)
            mock.send_batch(receiver.url, [DELIVERED] * 1000)
        mock.advance(400)  # far past the period: only the batch size may split them
        deadline = time.monotonic() + 20
        while len(receiver.reports()) < 2000 and time.monotonic() < deadline:
            time.sleep(0.05)
        sizes = [len(body) for body in receiver.bodies]
    assert sizes == [100] * 20


def test_batched_mode_per_account_override() -> None:
    accounts = [
        {
            "client_id": "1001",
            "login": "a",
            "password": "b",
            "callback_mode": "batched",
            "callback_batch_size": 2,
        },
        {"client_id": "1002", "login": "bob", "password": "pw"},
    ]
    with Receiver() as receiver, mock_server(accounts=json.dumps(accounts)) as mock:
        batched = mock.batch_sync(batch_body(receiver.url, [DELIVERED] * 3), auth=("a", "b"))
        single = mock.batch_sync(
            batch_body(receiver.url, [DELIVERED] * 2), client_id="1002", auth=("bob", "pw")
        )
        mock.advance(1)
        bodies = receiver.bodies
        arrays = [body for body in bodies if isinstance(body, list)]
        objects = [body for body in bodies if isinstance(body, dict)]
        assert [len(body) for body in arrays] == [2]  # the 3rd waits for the 1 s period
        assert sorted(body["message_id"] for body in objects) == sorted(accepted_ids(single))
        assert all(isinstance(body["number"], int) for body in objects)

        mock.advance(1)
        arrays = [body for body in receiver.bodies if isinstance(body, list)]
        assert [len(body) for body in arrays] == [2, 1]
        flat = [report for body in arrays for report in body]
        assert sorted(report["message_id"] for report in flat) == sorted(accepted_ids(batched))
        assert all(report["number"] == DELIVERED for report in flat)
        assert len(mock.callbacks(client_id="1001", kind="batch")) == 2
        assert len(mock.callbacks(client_id="1002", kind="report")) == 2


@pytest.mark.parametrize(
    ("mode", "number_type", "expected"),
    [
        ("single", "string", DELIVERED),
        ("single", "auto", int(DELIVERED)),
        ("batched", "int", int(DELIVERED)),
        ("batched", "auto", DELIVERED),
    ],
)
def test_number_type(mode: str, number_type: str, expected: object) -> None:
    settings = {
        "callback_mode": mode,
        "callback_number_type": number_type,
        "callback_batch_size": 2,
    }
    with Receiver() as receiver, mock_server(**settings) as mock:
        mock.send_batch(receiver.url, [DELIVERED, DELIVERED])
        mock.advance(1)
        reports = receiver.reports()
        assert len(reports) == 2
        assert all(type(report["number"]) is type(expected) for report in reports)
        assert all(report["number"] == expected for report in reports)


# -- what is reported ------------------------------------------------------------------------


@pytest.mark.parametrize("report_seen", [True, False])
def test_seen_is_reported_only_when_enabled(report_seen: bool) -> None:
    settings = {"callback_report_seen": True} if report_seen else {}
    with Receiver() as receiver, mock_server(**settings) as mock:
        [item] = mock.send_batch(receiver.url, [SEEN])
        mock.advance(1)
        [final] = receiver.reports()
        assert (final["status"], final["substatus"], final["hyber_status"]) == (2, 23, 23033)
        assert (final["sent_via"], final["time"]) == ("viber", START_MS + 1000)

        mock.advance(5)  # seen 5 s after the delivery
        mock.advance(10)  # the clicks (not reported either way)
        reports = receiver.reports()
        if not report_seen:
            assert reports == [final]
            return
        assert len(reports) == 2
        seen = reports[1]
        assert seen["message_id"] == item["message_id"]
        assert seen["extra_id"] == item["extra_id"]
        assert (seen["status"], seen["substatus"], seen["hyber_status"]) == (2, 24, 24033)
        assert (seen["sent_via"], seen["time"]) == ("viber", START_MS + 6000)


@pytest.mark.parametrize("report_late", [True, False])
def test_late_delivery_is_reported_only_when_enabled(report_late: bool) -> None:
    settings = {"callback_report_late": True} if report_late else {}
    with Receiver() as receiver, mock_server(**settings) as mock:
        mock.send_batch(receiver.url, [LATE])
        mock.advance(62)  # viber ttl 60 s, then SMS delivers 2 s later: the final report
        [final] = receiver.reports()
        assert (final["sent_via"], final["hyber_status"], final["time"]) == (
            "sms",
            23011,
            START_MS + 62_000,
        )
        mock.advance(10)  # viber delivers late, 10 s after its ttl
        reports = receiver.reports()
        if not report_late:
            assert reports == [final]
            return
        assert len(reports) == 2
        late = reports[1]
        assert (late["sent_via"], late["status"], late["hyber_status"]) == ("viber", 2, 23033)
        assert late["time"] == START_MS + 70_000


def test_blocked_fallback_and_not_a_user_reports() -> None:
    with Receiver() as receiver, mock_server() as mock:
        items = mock.send_batch(receiver.url, [BLOCKED, FALLBACK, NOT_A_USER])
        by_phone = {item["phone_number"]: item["message_id"] for item in items}
        mock.advance(70)
        reports = {report["message_id"]: report for report in receiver.reports()}
        assert len(reports) == 3

        blocked = reports[by_phone[BLOCKED]]
        assert blocked["sent_via"] == "hyber"
        assert (blocked["status"], blocked["substatus"], blocked["hyber_status"]) == (3, 36, 36001)
        assert blocked["time"] == START_MS
        assert "total_sms_parts" not in blocked and "delivered_sms_parts" not in blocked

        fallback = reports[by_phone[FALLBACK]]
        assert fallback["sent_via"] == "sms"
        assert (fallback["status"], fallback["hyber_status"]) == (2, 23011)
        assert fallback["time"] == START_MS + 62_000  # viber ttl 60 s + 2 s
        assert (fallback["total_sms_parts"], fallback["delivered_sms_parts"]) == (1, 1)

        not_a_user = reports[by_phone[NOT_A_USER]]
        assert not_a_user["sent_via"] == "sms"
        assert not_a_user["time"] == START_MS + 3000


def test_template_viber_report_carries_matching_template_id() -> None:
    with Receiver() as receiver, mock_server() as mock:
        body = batch_body(receiver.url, [DELIVERED, FALLBACK], name="batch_viber_template.json")
        items = mock.batch_sync(body)
        mock.advance(70)
        reports = {report["message_id"]: report for report in receiver.reports()}
        delivered, expired = (reports[item["message_id"]] for item in items)
        assert (delivered["hyber_status"], delivered["sent_via"]) == (23043, "viber")
        simple = mock.simple_dr(delivered["message_id"])
        assert delivered["matching_template_id"] == simple["matching_template_id"]
        assert isinstance(delivered["matching_template_id"], int)
        assert (expired["status"], expired["substatus"], expired["sent_via"]) == (3, 35, "viber")
        assert "matching_template_id" not in expired


# -- signature --------------------------------------------------------------------------------


def test_hmac_signature_of_the_raw_body() -> None:
    with Receiver() as receiver, mock_server(callback_hmac_secret="top-secret") as mock:
        mock.send_batch(receiver.url, [DELIVERED, BLOCKED])
        mock.advance(1)
        assert len(receiver.requests) == 2
        for request in receiver.requests:
            header = request.header("X-Hyber-Signature")
            digest = hmac.new(b"top-secret", request.raw, hashlib.sha256).hexdigest()
            assert header == "sha256=" + digest
            assert verify("top-secret", request.raw, header)
            assert not verify("other-secret", request.raw, header)
            assert not verify("top-secret", request.raw + b" ", header)


def test_hmac_secret_per_account_overrides_the_servers() -> None:
    accounts = [
        {"client_id": "1001", "login": "a", "password": "b", "callback_hmac_secret": "mine"},
        {"client_id": "1002", "login": "bob", "password": "pw"},
    ]
    settings = {"accounts": json.dumps(accounts), "callback_hmac_secret": "server-wide"}
    with Receiver() as receiver, mock_server(**settings) as mock:
        mock.batch_sync(batch_body(receiver.url, [DELIVERED]), auth=("a", "b"))
        mock.batch_sync(batch_body(receiver.url, [BLOCKED]), client_id="1002", auth=("bob", "pw"))
        mock.advance(1)
        by_code = {request.body["hyber_status"]: request for request in receiver.requests}
        own, other = by_code[23033], by_code[36001]
        assert verify("mine", own.raw, own.header("X-Hyber-Signature"))
        assert verify("server-wide", other.raw, other.header("X-Hyber-Signature"))


def test_no_signature_without_a_secret() -> None:
    with Receiver() as receiver, mock_server() as mock:
        mock.send_batch(receiver.url, [DELIVERED])
        mock.advance(1)
        [request] = receiver.requests
        assert request.header("X-Hyber-Signature") is None


# -- allowlist --------------------------------------------------------------------------------


def _send(mock: Mock, url: str, single: bool = False) -> httpx.Response:
    body = batch_body(url, [DELIVERED])
    if single:
        body = {
            "phone_number": int(DELIVERED),
            "callback_url": url,
            "channels": ["sms"],
            "channel_options": {"sms": {"text": "hello", "ttl": 300, "alpha_name": "GMSU"}},
        }
        return mock.http.post("/1001", json=body, auth=("alice", "secret"))
    return mock.http.post("/1001/batch", json=body, auth=("alice", "secret"))


def _assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == 11002
    assert "callback_url" in body["error_text"]
    assert set(body) == {"error_code", "error_text"}


@pytest.mark.parametrize("single", [False, True], ids=["batch", "single"])
def test_allowlist_of_exact_hosts(single: bool) -> None:
    with Receiver() as receiver, mock_server(callback_allowed_hosts="127.0.0.1") as mock:
        response = _send(mock, receiver.url, single)
        assert response.status_code == 200, response.text
        _assert_refused(_send(mock, "https://evil.example.com/dr", single))
        _assert_refused(_send(mock, "http://localhost:9/dr", single))
        mock.advance(1)
        assert len(receiver.requests) == 1


def test_allowlist_with_a_wildcard() -> None:
    with mock_server(callback_allowed_hosts="*.example.com,127.0.0.1") as mock:
        for url in ("https://hooks.example.com/dr", "http://a.b.EXAMPLE.com:8443/x"):
            assert _send(mock, url).status_code == 200, url
        for url in (
            "https://evil.com/dr",
            "https://example.com.evil.com/",
            "http://notexample.com",
        ):
            _assert_refused(_send(mock, url))


def test_without_an_allowlist_any_host_is_accepted() -> None:
    with mock_server() as mock:
        assert _send(mock, "https://evil.example.com/dr").status_code == 200


# -- the API never waits on a receiver ---------------------------------------------------------


def test_the_api_answers_fast_while_the_receiver_is_slow() -> None:
    # One worker: a receiver that takes 2 s per report blocks the dispatcher.
    settings = {"callback_concurrency": 1}
    bound = 1.0  # generous: waiting on the receiver would take 2 s or more
    with Receiver(delay=2.0) as receiver, mock_server(**settings) as mock:
        mock.send_batch(receiver.url, [DELIVERED] * 6)
        started = time.perf_counter()
        mock.advance(1, wait=False)
        assert time.perf_counter() - started < bound
        receiver.wait_for(1, timeout=5)  # the first report is being answered (slowly)

        started = time.perf_counter()
        items = mock.send_batch(receiver.url, [DELIVERED] * 20)
        assert time.perf_counter() - started < bound
        assert len(items) == 20
        started = time.perf_counter()
        response = mock.http.post(
            "/1001/batch", json=batch_body(receiver.url, [DELIVERED] * 5), auth=("alice", "secret")
        )
        assert response.status_code == 200
        assert time.perf_counter() - started < bound
        started = time.perf_counter()
        assert len(mock.callbacks()) == 6
        assert time.perf_counter() - started < bound
        # waiting for callbacks is bounded by the caller's timeout
        started = time.perf_counter()
        mock.advance(1, wait=True, timeout=0.3)
        assert time.perf_counter() - started < 0.3 + bound


# -- the attempt log ----------------------------------------------------------------------------


def test_callback_log_filters() -> None:
    with (
        Receiver() as receiver,
        DownReceiver() as down,
        mock_server(callback_max_attempts=1) as mock,
    ):
        good = mock.send_batch(receiver.url, [DELIVERED, BLOCKED, REJECTED])
        down_url = down.url
        bad = mock.send_batch(down_url, [DELIVERED])
        mock.advance(1)

        every = mock.callbacks()
        assert len(every) == 3
        assert [entry["id"] for entry in every] == sorted(entry["id"] for entry in every)
        assert len(mock.callbacks(kind="report")) == 3
        assert mock.callbacks(kind="batch") == [] and mock.callbacks(kind="inbound") == []
        assert len(mock.callbacks(status="delivered")) == 2
        [failed] = mock.callbacks(status="failed")
        assert failed["url"] == down_url and failed["error"]
        assert failed["message_ids"] == [bad[0]["message_id"]]
        assert mock.callbacks(status="pending") == mock.callbacks(status="dropped") == []

        blocked_id = good[1]["message_id"]
        [entry] = mock.callbacks(message_id=blocked_id)
        assert entry["body"]["hyber_status"] == 36001
        assert mock.callbacks(message_id=good[2]["message_id"]) == []  # rejected: no report
        job_id = entry["job_ids"][0]
        assert {e["message_ids"][0] for e in mock.callbacks(job_id=job_id)} == {
            good[0]["message_id"],
            blocked_id,
        }
        assert len(mock.callbacks(url=receiver.url)) == 2
        assert mock.callbacks(client_id="1001") == every

        response = mock.http.get("/_mock/callbacks", params={"limit": 1, "body": "false"})
        page = response.json()
        assert page["total"] == 3
        [last] = page["callbacks"]
        assert last["id"] == every[-1]["id"]
        assert "body" not in last
