"""Every request example of the spec page works on its async and its sync endpoint."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import load_fixture, spec_fixtures

EXAMPLES = spec_fixtures()
IDS = [example["file"].removesuffix(".json") for example in EXAMPLES]


def test_every_example_of_the_page_has_a_fixture() -> None:
    assert len(EXAMPLES) == 20
    assert {example["endpoint"] for example in EXAMPLES} == {"batch", "broadcast"}


@pytest.mark.parametrize("example", EXAMPLES, ids=IDS)
def test_example_on_async_and_sync_endpoints_with_its_status_report(
    server: object, alice: httpx.Client, example: dict[str, str]
) -> None:
    body = load_fixture(example["file"])
    recipients = body.get("messages") or body["recipients"]
    phones = [str(recipient["phone_number"]) for recipient in recipients]

    answer = alice.post(f"/{example['endpoint']}", json=body)
    assert answer.status_code == 200, answer.text
    assert list(answer.json()) == ["job_id"]

    status = alice.get(f"/status/{answer.json()['job_id']}")
    assert status.status_code == 200
    items = status.json()["messages"]
    assert [item["phone_number"] for item in items] == phones
    assert [item["extra_id"] for item in items] == [r["extra_id"] for r in recipients]
    assert all(item["accepted"] is True and item["status"] == -1 for item in items)
    status_ids = [item["message_id"] for item in items]
    assert len(set(status_ids)) == len(recipients)

    # Same seed, reset account, same request: the sync answer carries the same message ids.
    httpx.post(f"{alice.base_url.scheme}://{alice.base_url.netloc.decode()}/_mock/reset")
    sync = alice.post(f"/{example['endpoint']}/sync", json=body)
    assert sync.status_code == 200, sync.text
    sync_items = sync.json()["messages"]
    for item, recipient in zip(sync_items, recipients, strict=True):
        assert set(item) == {"processed", "phone_number", "message_id", "extra_id", "accepted"}
        assert item["phone_number"] == str(recipient["phone_number"])
        assert item["extra_id"] == recipient["extra_id"]
        assert item["accepted"] is True and item["processed"] is True
    assert [item["message_id"] for item in sync_items] == status_ids
