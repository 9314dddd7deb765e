"""Per-recipient acceptance: a wrong phone number rejects that recipient alone (36024), the rest of
the batch or broadcast goes on. Legacy and unknown fields are tolerated."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mock_hyber.testing.server import LiveServer
from tests.bodies import (
    PHONE_1,
    PHONE_2,
    batch_body,
    broadcast_body,
    is_v5_uuid,
    single_body,
    sms_options,
)

PHONE_INCORRECT = {"error_code": 36024, "error_text": "Phone number incorrect"}

# (extra_id, the recipient's phone_number entry or MISSING, echoed phone, accepted?)
MISSING = object()
RECIPIENTS: list[tuple[str, Any, str, bool]] = [
    ("int", PHONE_1, "380961111111", True),
    ("digit-string", "380962222222", "380962222222", True),
    ("too-short", 38096111, "38096111", False),
    ("plus", "+380963333333", "+380963333333", False),
    ("letters", "38096abc4444", "38096abc4444", False),
    ("null", None, "", False),
    ("missing", MISSING, "", False),
    ("float", 380965555555.0, "380965555555.0", False),
    ("true", True, "true", False),
    ("leading-zero", "0966666666", "0966666666", False),
    ("too-long", 3809677777777777, "3809677777777777", False),
    ("int-2", 12025550123, "12025550123", True),
]


def recipient(extra_id: str, phone: Any, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"extra_id": extra_id, **extra}
    if phone is not MISSING:
        item["phone_number"] = phone
    return item


def mixed_batch() -> dict[str, Any]:
    body = batch_body()
    body["messages"] = [
        recipient(extra_id, phone, text=f"Hello {extra_id}") for extra_id, phone, _, _ in RECIPIENTS
    ]
    return body


def mixed_broadcast() -> dict[str, Any]:
    body = broadcast_body()
    body["recipients"] = [
        recipient(extra_id, phone, name=extra_id) for extra_id, phone, _, _ in RECIPIENTS
    ]
    return body


MIXED = {"batch": mixed_batch, "broadcast": mixed_broadcast}


def check_acceptance_items(items: list[dict[str, Any]]) -> None:
    assert len(items) == len(RECIPIENTS)
    for item, (extra_id, _, echoed, accepted) in zip(items, RECIPIENTS, strict=True):
        assert item["extra_id"] == extra_id
        assert type(item["phone_number"]) is str
        assert item["phone_number"] == echoed, extra_id
        assert is_v5_uuid(item["message_id"])
        if accepted:
            assert item == {
                "processed": True,
                "phone_number": echoed,
                "message_id": item["message_id"],
                "extra_id": extra_id,
                "accepted": True,
            }
        else:
            assert item == {
                "processed": False,
                "phone_number": echoed,
                "message_id": item["message_id"],
                "extra_id": extra_id,
                "accepted": False,
                **PHONE_INCORRECT,
            }, extra_id
    assert len({item["message_id"] for item in items}) == len(items)


@pytest.mark.parametrize("kind", list(MIXED))
def test_sync_answer_per_recipient(alice: httpx.Client, kind: str) -> None:
    response = alice.post(f"/{kind}/sync", json=MIXED[kind]())
    assert response.status_code == 200, response.text
    check_acceptance_items(response.json()["messages"])


@pytest.mark.parametrize("kind", list(MIXED))
def test_async_status_report_per_recipient(alice: httpx.Client, kind: str) -> None:
    response = alice.post(f"/{kind}", json=MIXED[kind]())
    assert response.status_code == 200, response.text
    job_id = response.json()["job_id"]
    assert is_v5_uuid(job_id)

    report = alice.get(f"/status/{job_id}")
    assert report.status_code == 200, report.text
    items = report.json()["messages"]
    assert len(items) == len(RECIPIENTS)
    for item, (extra_id, _, echoed, accepted) in zip(items, RECIPIENTS, strict=True):
        assert item["extra_id"] == extra_id
        assert item["phone_number"] == echoed
        assert item["accepted"] is accepted, extra_id
        assert is_v5_uuid(item["message_id"])
        assert isinstance(item["time"], int)
        if accepted:
            assert "error_code" not in item and "error_text" not in item
        else:
            assert item["processed"] is False
            assert item["error_code"] == PHONE_INCORRECT["error_code"]
            assert item["error_text"] == PHONE_INCORRECT["error_text"]
            assert "status" not in item and "hyber_status" not in item


@pytest.mark.parametrize("kind", list(MIXED))
def test_sync_and_async_give_the_same_ids_after_a_reset(
    server: LiveServer, alice: httpx.Client, kind: str
) -> None:
    job_id = alice.post(f"/{kind}", json=MIXED[kind]()).json()["job_id"]
    async_ids = [item["message_id"] for item in alice.get(f"/status/{job_id}").json()["messages"]]
    httpx.post(f"{server.url}/_mock/reset?client_id=1001").raise_for_status()
    sync = alice.post(f"/{kind}/sync", json=MIXED[kind]()).json()["messages"]
    assert [item["message_id"] for item in sync] == async_ids


def test_rejected_recipients_are_stored_as_rejected(
    server: LiveServer, alice: httpx.Client
) -> None:
    alice.post("/batch/sync", json=mixed_batch()).raise_for_status()
    account = server.backend.accounts["1001"]
    (job,) = account.store.jobs.values()
    messages = account.messages(job)
    assert [m.accepted for m in messages] == [accepted for *_, accepted in RECIPIENTS]
    for message in messages:
        if not message.accepted:
            assert message.error_code == 36024
            assert message.sms_parts == 0


def test_all_recipients_rejected_is_still_a_job(alice: httpx.Client) -> None:
    body = batch_body()
    body["messages"] = [{"phone_number": "+1", "text": "x"}, {"text": "y"}]
    response = alice.post("/batch/sync", json=body)
    assert response.status_code == 200, response.text
    items = response.json()["messages"]
    assert [item["accepted"] for item in items] == [False, False]
    assert [item["phone_number"] for item in items] == ["+1", ""]


# -- tolerance -------------------------------------------------------------------------------


def legacy(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with the legacy and unknown fields real clients send."""
    body["is_promotional"] = "true"
    body["some_future_field"] = {"nested": [1, 2]}
    body["channels"] = ["viber", "sms"]
    body["channel_options"]["viber"] = {
        "ttl": 60,
        "text": "Hello",
        "ios_expirity_text": "Expired",
        "unknown_viber_field": 1,
    }
    body["channel_options"]["sms"]["unknown_sms_field"] = "x"
    body["channel_options"]["unknown_channel_entry"] = {"ttl": 1}
    return body


@pytest.mark.parametrize(
    ("path", "make"),
    [("", single_body), ("/batch", batch_body), ("/broadcast/sync", broadcast_body)],
    ids=["single", "batch", "broadcast_sync"],
)
def test_legacy_and_unknown_fields_are_accepted(
    server: LiveServer, alice: httpx.Client, path: str, make: Any
) -> None:
    response = alice.post(f"{server.url}/1001{path}", json=legacy(make()))
    assert response.status_code == 200, response.text
    if path == "/broadcast/sync":
        assert all(item["accepted"] for item in response.json()["messages"])


def test_is_promotional_as_a_boolean_is_accepted(server: LiveServer, alice: httpx.Client) -> None:
    response = alice.post(f"{server.url}/1001", json=single_body(is_promotional=False))
    assert response.status_code == 200, response.text


def test_single_phone_as_a_digit_string(server: LiveServer, alice: httpx.Client) -> None:
    response = alice.post(f"{server.url}/1001", json=single_body(phone_number="380961111111"))
    assert response.status_code == 200, response.text
    message = server.backend.accounts["1001"].message(response.json()["message_id"])
    assert message.phone == "380961111111"


def test_digit_string_phone_comes_back_as_the_same_string(alice: httpx.Client) -> None:
    body = batch_body()
    body["messages"][0]["phone_number"] = str(PHONE_1)
    body["messages"][1]["phone_number"] = PHONE_2
    items = alice.post("/batch/sync", json=body).json()["messages"]
    assert [item["phone_number"] for item in items] == [str(PHONE_1), str(PHONE_2)]
    assert all(item["accepted"] for item in items)


def test_whatsapp_coordinates_as_strings(server: LiveServer, alice: httpx.Client) -> None:
    body = single_body(channels=["whatsapp"])
    body["channel_options"] = {
        "whatsapp": {"ttl": 604800, "latitude": "50.438820", "longitude": "-30.498916"}
    }
    response = alice.post(f"{server.url}/1001", json=body)
    assert response.status_code == 200, response.text
    message = server.backend.accounts["1001"].message(response.json()["message_id"])
    assert message.job.channel_options["whatsapp"]["latitude"] == pytest.approx(50.43882)
    assert message.job.channel_options["whatsapp"]["longitude"] == pytest.approx(-30.498916)


def test_numbers_as_strings_in_channel_options(alice: httpx.Client) -> None:
    body = batch_body()
    body["channel_options"]["sms"] = sms_options(ttl="300", ctr="false")
    response = alice.post("/batch", json=body)
    assert response.status_code == 200, response.text


def test_extra_id_as_a_number_is_taken_as_text(alice: httpx.Client) -> None:
    body = batch_body()
    body["messages"][0]["extra_id"] = 7006
    items = alice.post("/batch/sync", json=body).json()["messages"]
    assert items[0]["extra_id"] == "7006"
