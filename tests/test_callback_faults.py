"""Callback faults (PUT /_mock/faults {"callbacks": {...}}): drop, duplicate, delay and reorder,
seeded per account so a rerun with the same seed injects the same faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.callback_helpers import DELIVERED, START_MS, Mock, batch_body, mock_server
from tests.receiver import Receiver

DEFAULT_FAULTS = {
    "drop": 0.0,
    "duplicate": 0.0,
    "delay": {"probability": 0.0, "seconds": 30.0},
    "reorder": {"probability": 0.0, "window": 10.0},
}
TWENTY = [f"3806700001{n:02d}" for n in range(20)]


def faults_of(mock: Mock, client_id: str = "1001") -> dict[str, Any]:
    response = mock.http.get("/_mock/faults")
    assert response.status_code == 200, response.text
    faults: dict[str, Any] = response.json()["faults"][client_id]["callbacks"]
    return faults


def put_ok(mock: Mock, callbacks: dict[str, Any], **params: Any) -> dict[str, Any]:
    response = mock.put_faults({"callbacks": callbacks}, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_faults_are_off_by_default() -> None:
    with mock_server() as mock:
        assert faults_of(mock) == DEFAULT_FAULTS


def test_drop_sends_nothing_and_logs_dropped() -> None:
    with Receiver() as receiver, mock_server() as mock:
        answer = put_ok(mock, {"drop": 1.0})
        assert answer["faults"]["1001"]["callbacks"]["drop"] == 1.0
        assert faults_of(mock)["drop"] == 1.0

        items = mock.send_batch(receiver.url, [DELIVERED] * 3)
        mock.advance(1)
        mock.advance(600)
        assert receiver.quiet(0.2) == []
        log = mock.callbacks()
        assert len(log) == 3
        assert sorted(entry["message_ids"][0] for entry in log) == sorted(
            item["message_id"] for item in items
        )
        for entry in log:
            assert entry["status"] == "dropped"
            assert "drop" in entry["note"]
            assert entry["attempt_count"] == 0
            assert entry["next_attempt_ms"] is None
        assert len(mock.callbacks(status="dropped")) == 3
        assert mock.callbacks(status="pending") == []


def test_a_dropped_report_can_be_redelivered() -> None:
    with Receiver() as receiver, mock_server() as mock:
        put_ok(mock, {"drop": 1.0})
        [item] = mock.send_batch(receiver.url, [DELIVERED])
        mock.advance(1)
        [entry] = mock.callbacks()
        response = mock.http.post(f"/_mock/callbacks/{entry['id']}/redeliver")
        assert response.status_code == 200, response.text
        mock.advance(0)
        receiver.wait_for(1, timeout=5)
        assert receiver.requests[0].body["message_id"] == item["message_id"]
        [entry] = mock.callbacks()
        assert (entry["status"], entry["attempt_count"]) == ("delivered", 1)


def test_duplicate_sends_every_report_twice() -> None:
    with Receiver() as receiver, mock_server() as mock:
        put_ok(mock, {"duplicate": 1.0})
        items = mock.send_batch(receiver.url, [DELIVERED] * 3)
        mock.advance(1)
        mock.advance(600)
        assert len(receiver.requests) == 6
        by_message: dict[str, list[bytes]] = {}
        for request in receiver.requests:
            by_message.setdefault(request.body["message_id"], []).append(request.raw)
        assert sorted(by_message) == sorted(item["message_id"] for item in items)
        for raws in by_message.values():
            assert len(raws) == 2 and raws[0] == raws[1]  # byte for byte the same report
        log = mock.callbacks()
        assert len(log) == 6
        assert all(entry["status"] == "delivered" for entry in log)
        assert sum("duplicate" in (entry["note"] or "") for entry in log) >= 3


def test_delay_holds_a_report_back_on_the_virtual_clock() -> None:
    with Receiver() as receiver, mock_server() as mock:
        put_ok(mock, {"delay": {"probability": 1, "seconds": 30}})
        [item] = mock.send_batch(receiver.url, [DELIVERED])
        mock.advance(1)  # delivered now, but the report is held back 30 s
        assert receiver.requests == []
        [entry] = mock.callbacks()
        assert entry["status"] == "pending"
        assert entry["next_attempt_ms"] == START_MS + 31_000
        assert "delayed 30 s" in entry["note"]
        mock.advance(29)
        assert receiver.requests == []
        mock.advance(1)
        [request] = receiver.requests
        assert request.body["message_id"] == item["message_id"]
        assert request.body["time"] == START_MS + 1000  # the time of the status, not the POST
        [entry] = mock.callbacks()
        assert entry["status"] == "delivered"
        assert entry["attempts"][0]["at_ms"] == START_MS + 31_000


def _reorder_run() -> tuple[list[str], list[str], list[str]]:
    """Six messages delivered 1 s apart; with reorder on, the order the reports arrive in."""
    rules = [
        {"match": {"phone": f"38067000002{n}"}, "legs": [{"outcome": "delivered", "after": n}]}
        for n in range(1, 7)
    ]
    # One worker: reports due together go out one by one in their scheduled order.
    with Receiver() as receiver, mock_server(callback_concurrency=1) as mock:
        mock.put_scenarios({"rules": rules})
        put_ok(mock, {"reorder": {"probability": 1, "window": 60}})
        mock.send_batch(receiver.url, [f"38067000002{n}" for n in range(1, 7)])
        mock.advance(120)
        reports = receiver.reports()
        assert len(reports) == 6
        arrival = [report["extra_id"] for report in reports]
        events = [report["extra_id"] for report in sorted(reports, key=lambda r: r["time"])]
        notes = [entry["note"] for entry in mock.callbacks()]
        return arrival, events, notes


def test_reorder_changes_the_arrival_order_the_same_way_for_the_same_seed() -> None:
    arrival, events, notes = _reorder_run()
    assert events == [f"EX-{n:03d}" for n in range(6)]  # delivered in recipient order
    assert arrival != events
    assert sorted(arrival) == events
    assert all("reorder" in (note or "") for note in notes)
    again, _, _ = _reorder_run()
    assert again == arrival


def _dropped_with_seed(seed: int) -> tuple[set[str], set[str]]:
    with Receiver() as receiver, mock_server(seed=seed) as mock:
        put_ok(mock, {"drop": 0.5})
        items = mock.send_batch(receiver.url, TWENTY)
        mock.advance(1)
        mock.advance(600)
        dropped = {entry["message_ids"][0] for entry in mock.callbacks(status="dropped")}
        sent = {report["message_id"] for report in receiver.reports()}
        assert dropped | sent == {item["message_id"] for item in items}
        assert not dropped & sent
        return dropped, sent


def test_faults_are_seeded() -> None:
    first, sent = _dropped_with_seed(3)
    assert 0 < len(first) < 20
    second, sent_again = _dropped_with_seed(3)
    assert second == first and sent_again == sent


BAD_FAULTS = [
    {"callbacks": {"drop": 2}},
    {"callbacks": {"drop": -0.1}},
    {"callbacks": {"drop": "half"}},
    {"callbacks": {"bogus": 1}},
    {"callbacks": {"duplicate": 1.5}},
    {"callbacks": {"delay": {"probability": 1, "seconds": -5}}},
    {"callbacks": {"delay": {"probability": 1, "sconds": 5}}},
    {"callbacks": {"reorder": {"probability": "often"}}},
    {"callbacks": {"reorder": {"probability": 1, "window": -1}}},
    {"callbacks": []},
    {"nope": {}},
    [1, 2],
    "drop",
]


@pytest.fixture(scope="module")
def shared_mock() -> Iterator[Mock]:
    """One server for the tests that only check answers (faults are put before each use)."""
    with mock_server() as mock:
        yield mock


@pytest.mark.parametrize("body", BAD_FAULTS, ids=[json.dumps(b) for b in BAD_FAULTS])
def test_bad_faults_body_is_a_hyber_shaped_400(shared_mock: Mock, body: object) -> None:
    put_ok(shared_mock, {"drop": 0.25})
    response = shared_mock.put_faults(body)  # type: ignore[arg-type]
    assert response.status_code == 400, response.text
    answer = response.json()
    assert set(answer) == {"error_code", "error_text"}
    assert answer["error_code"] == 11002
    assert faults_of(shared_mock)["drop"] == 0.25  # nothing changed


def test_malformed_json_faults_body(shared_mock: Mock) -> None:
    response = shared_mock.http.put("/_mock/faults", content=b"{drop: 1")
    assert response.status_code == 400
    assert response.json()["error_code"] == 10400


def test_reset_clears_faults() -> None:
    with Receiver() as receiver, mock_server() as mock:
        put_ok(mock, {"drop": 1.0, "delay": {"probability": 0.5, "seconds": 5}})
        assert faults_of(mock)["drop"] == 1.0
        assert mock.http.post("/_mock/reset").status_code == 200
        assert faults_of(mock) == DEFAULT_FAULTS
        mock.send_batch(receiver.url, [DELIVERED])
        mock.advance(1)
        assert len(receiver.requests) == 1
        assert mock.callbacks()[0]["status"] == "delivered"


def test_faults_are_per_account() -> None:
    accounts = "1001:alice:secret,1002:bob:pw"
    with Receiver() as receiver, mock_server(accounts=accounts) as mock:
        answer = put_ok(mock, {"drop": 1.0}, client_id="1001")
        assert list(answer["faults"]) == ["1001"]
        assert faults_of(mock, "1001")["drop"] == 1.0
        assert faults_of(mock, "1002")["drop"] == 0.0

        mock.send_batch(receiver.url, [DELIVERED])
        [other] = mock.batch_sync(
            batch_body(receiver.url, [DELIVERED]), client_id="1002", auth=("bob", "pw")
        )
        mock.advance(1)
        assert [report["message_id"] for report in receiver.reports()] == [other["message_id"]]
        assert [entry["status"] for entry in mock.callbacks(client_id="1001")] == ["dropped"]
