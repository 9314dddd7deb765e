"""Broadcast personalisation: %key% takes the recipient's value; a value that breaks a limit
after substitution rejects that recipient alone (36031)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_hyber.config import Settings
from mock_hyber.model import Message
from mock_hyber.templating import BroadcastTemplate, MissingVariable, as_text
from mock_hyber.testing.server import LiveServer
from tests.bodies import PHONE_1, PHONE_2, broadcast_body, sms_options
from tests.conftest import ACCOUNTS, ALICE, load_fixture

TEMPLATE_INVALID = 36031

# -- unit: BroadcastTemplate ---------------------------------------------------------------------


def sms(text: str) -> dict[str, dict[str, Any]]:
    return {"sms": {"ttl": 300, "alpha_name": "GMSU", "text": text}}


def render(options: dict[str, dict[str, Any]], recipient: dict[str, Any], missing: str = "keep"):
    return BroadcastTemplate(options, missing).render(recipient)


def test_substitutes_every_key() -> None:
    rendered = render(sms("Dear %greeting% %name%!"), {"name": "Michael", "greeting": "Mr."})
    assert rendered == {"sms": {"text": "Dear Mr. Michael!"}}


def test_the_same_key_twice() -> None:
    assert render(sms("%n%-%n%"), {"n": "a"}) == {"sms": {"text": "a-a"}}


@pytest.mark.parametrize(
    ("missing", "expected"),
    [("keep", "Hi Ann, %city%!"), ("empty", "Hi Ann, !")],
)
def test_missing_key_keep_or_empty(missing: str, expected: str) -> None:
    rendered = render(sms("Hi %name%, %city%!"), {"name": "Ann"}, missing)
    assert rendered["sms"]["text"] == expected


def test_missing_key_reject() -> None:
    with pytest.raises(MissingVariable) as raised:
        render(sms("Hi %name%, %city%!"), {"name": "Ann"}, "reject")
    assert raised.value.key == "city"


def test_keys_are_case_sensitive() -> None:
    with pytest.raises(MissingVariable):
        render(sms("Hi %Name%"), {"name": "Ann"}, "reject")


@pytest.mark.parametrize(
    "text",
    ["50% off", "100%", "% %", "50 % off for 10 %", "a%%b", "100% sure, 5% done", "%", "%%"],
)
def test_a_literal_percent_is_left_alone(text: str) -> None:
    template = BroadcastTemplate(sms(text), "reject")
    assert not template  # nothing to substitute
    assert template.render({"name": "Ann"}) == {}


def test_a_literal_percent_next_to_a_key() -> None:
    rendered = render(sms("50% off for %name%, 100%!"), {"name": "Ann"}, "reject")
    assert rendered["sms"]["text"] == "50% off for Ann, 100%!"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (12, "12"),
        (-3, "-3"),
        (1.5, "1.5"),
        (True, "true"),
        (False, "false"),
        (None, ""),
        ([1, "a"], '[1,"a"]'),
        ({"k": 1}, '{"k":1}'),
        ("", ""),
        ("Зоя", "Зоя"),
    ],
)
def test_values_that_are_not_strings_are_written_as_json(value: Any, text: str) -> None:
    assert as_text(value) == text
    assert render(sms("<%v%>"), {"v": value}, "reject") == {"sms": {"text": f"<{text}>"}}


def test_only_templated_string_options_are_rendered() -> None:
    options = {
        "viber": {"ttl": 60, "text": "Hi %name%", "caption": "Open", "action": "%url%"},
        "sms": {"ttl": 300, "alpha_name": "GMSU", "text": "plain"},
    }
    template = BroadcastTemplate(options, "keep")
    assert template
    rendered = template.render({"name": "Ann", "url": "https://example.com/a"})
    assert rendered == {"viber": {"text": "Hi Ann", "action": "https://example.com/a"}}


def test_recipient_keys_are_not_read_from_other_recipients() -> None:
    template = BroadcastTemplate(sms("Hi %name%"), "keep")
    assert template.render({"name": "Ann"}) == {"sms": {"text": "Hi Ann"}}
    assert template.render({}) == {"sms": {"text": "Hi %name%"}}


def test_a_value_holding_a_placeholder_is_not_substituted_again() -> None:
    rendered = render(sms("%a%"), {"a": "%b%", "b": "nested"}, "reject")
    assert rendered["sms"]["text"] == "%b%"


# -- HTTP ------------------------------------------------------------------------------------------


def stored(server: LiveServer, message_id: str) -> Message:
    message = server.backend.accounts["1001"].message(message_id)
    assert message is not None
    return message


def sync_items(alice: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = alice.post("/broadcast/sync", json=body)
    assert response.status_code == 200, response.text
    return list(response.json()["messages"])


def test_the_spec_sms_broadcast_is_personalised(server: LiveServer, alice: httpx.Client) -> None:
    items = sync_items(alice, load_fixture("broadcast_sms.json"))
    texts = [stored(server, item["message_id"]).option("sms", "text") for item in items]
    # The spec's greetings end with a space ("Mr. "), so the texts have two.
    assert texts == ["Dear Mr.  Michael! Here is an SMS", "Dear Ms.  Zoya! Here is an SMS"]


def test_async_broadcast_is_personalised_too(server: LiveServer, alice: httpx.Client) -> None:
    response = alice.post("/broadcast", json=broadcast_body())
    account = server.backend.accounts["1001"]
    job = account.store.job(response.json()["job_id"])
    assert [m.option("sms", "text") for m in account.messages(job)] == ["Dear Ann", "Dear Bob"]
    assert job.channel_options["sms"]["text"] == "Dear %name%"  # the template itself is kept


def test_the_spec_viber_file_only_broadcast(server: LiveServer, alice: httpx.Client) -> None:
    body = load_fixture("broadcast_viber_file_only.json")
    items = sync_items(alice, body)
    assert [item["accepted"] for item in items] == [True, True]
    for item, recipient in zip(items, body["recipients"], strict=True):
        message = stored(server, item["message_id"])
        assert message.option("viber", "file_name") == recipient["name"]
        assert message.option("viber", "action") == recipient["url"]


def test_missing_key_is_kept_by_default(server: LiveServer, alice: httpx.Client) -> None:
    body = broadcast_body()
    del body["recipients"][1]["name"]
    items = sync_items(alice, body)
    assert [item["accepted"] for item in items] == [True, True]
    assert stored(server, items[1]["message_id"]).option("sms", "text") == "Dear %name%"


def check_one_rejected(items: list[dict[str, Any]], rejected: int, field: str) -> dict[str, Any]:
    for index, item in enumerate(items):
        if index == rejected:
            assert item["accepted"] is False and item["processed"] is False
            assert item["error_code"] == TEMPLATE_INVALID
            assert field in item["error_text"], item["error_text"]
        else:
            assert item["accepted"] is True, item
            assert "error_code" not in item
    return items[rejected]


def three_recipients(**values: Any) -> list[dict[str, Any]]:
    """Three recipients; the second one gets `values`, the others harmless ones."""
    good = {"name": "Ann", "caption": "Open", "file": "offer.pdf", "text": "Hi"}
    return [
        {"phone_number": PHONE_1, "extra_id": "t-1", **good},
        {"phone_number": PHONE_2, "extra_id": "t-2", **good, **values},
        {"phone_number": 380963333333, "extra_id": "t-3", **good},
    ]


def viber_broadcast(options: dict[str, Any], **values: Any) -> dict[str, Any]:
    body = broadcast_body(channels=["viber"], channel_options={"viber": {"ttl": 60, **options}})
    body["recipients"] = three_recipients(**values)
    return body


CASES = {
    "viber_caption_31": (
        viber_broadcast(
            {"text": "x", "caption": "%caption%", "action": "https://e.com"}, caption="c" * 31
        ),
        "channel_options.viber.caption",
    ),
    "viber_file_name_bad_extension": (
        viber_broadcast({"file_name": "%file%", "action": "https://e.com/f"}, file="setup.exe"),
        "channel_options.viber.file_name",
    ),
    "viber_file_name_26_chars": (
        viber_broadcast(
            {"file_name": "%file%", "action": "https://e.com/f"}, file="f" * 22 + ".pdf"
        ),
        "channel_options.viber.file_name",
    ),
    "viber_text_1001": (
        viber_broadcast({"text": "%text%"}, text="t" * 1001),
        "channel_options.viber.text",
    ),
    "viber_action_257": (
        viber_broadcast(
            {"text": "x", "caption": "Go", "action": "https://e.com/%name%"}, name="n" * 243
        ),
        "channel_options.viber.action",
    ),
    "sms_text_6_segments": (
        broadcast_body(
            recipients=three_recipients(name="n" * 770),
            channel_options={"sms": sms_options(text="Dear %name%")},
        ),
        "channel_options.sms.text",
    ),
    "sms_alpha_name_cyrillic": (
        broadcast_body(
            recipients=three_recipients(name="Магазин"),
            channel_options={"sms": sms_options(alpha_name="%name%", text="Hi")},
        ),
        "channel_options.sms.alpha_name",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_value_breaking_a_limit_rejects_that_recipient_alone(
    server: LiveServer, alice: httpx.Client, case: str
) -> None:
    body, field = CASES[case]
    items = sync_items(alice, body)
    rejected = check_one_rejected(items, 1, field)
    assert stored(server, rejected["message_id"]).sms_parts == 0


def test_the_status_report_shows_the_template_rejection(alice: httpx.Client) -> None:
    body, field = CASES["viber_caption_31"]
    job_id = alice.post("/broadcast", json=body).json()["job_id"]
    items = alice.get(f"/status/{job_id}").json()["messages"]
    assert [item["accepted"] for item in items] == [True, False, True]
    assert items[1]["error_code"] == TEMPLATE_INVALID
    assert field in items[1]["error_text"]


def test_a_template_within_limits_before_substitution_is_not_checked_early(
    alice: httpx.Client,
) -> None:
    # "%file%" itself has no extension, which only matters after substitution.
    body = viber_broadcast({"file_name": "%file%", "action": "https://e.com/f"})
    assert [item["accepted"] for item in sync_items(alice, body)] == [True, True, True]


@pytest.fixture(scope="module")
def rejecting_server() -> Iterator[LiveServer]:
    with LiveServer(Settings(accounts=ACCOUNTS, seed=42, template_missing="reject")) as live:
        yield live


def test_missing_key_rejects_the_recipient_when_so_configured(
    rejecting_server: LiveServer,
) -> None:
    body = broadcast_body()
    del body["recipients"][0]["name"]
    response = httpx.post(
        f"{rejecting_server.url}/1001/broadcast/sync", json=body, auth=ALICE, timeout=10
    )
    assert response.status_code == 200, response.text
    first, second = response.json()["messages"]
    assert first["accepted"] is False
    assert first["error_code"] == TEMPLATE_INVALID
    assert "%name%" in first["error_text"]
    assert second["accepted"] is True


@pytest.mark.parametrize(
    "values",
    [["Ann"], [""], ["", ""], ["a", "b c", ""], ["x\x00y", "z"], ["\x01first", "b"], ["[1]", ""]],
)
def test_substitutions_are_packed_into_one_text_and_back(values: list[str]) -> None:
    from mock_hyber.templating import pack_substitutions, unpack_substitutions

    packed = pack_substitutions(values)
    assert isinstance(packed, str)
    assert unpack_substitutions(packed) == values
