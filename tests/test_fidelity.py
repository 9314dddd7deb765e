"""Fidelity to the documented behaviour of the Hyber API (issue 12), over HTTP on the conftest
server's frozen clock: each test shows one documented behaviour the mock models."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from mock_hyber.config import Settings
from mock_hyber.testing.receiver import CallbackReceiver
from mock_hyber.testing.server import LiveServer
from tests.bodies import assert_error, single_body, sms_options

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, the conftest clock's start
ALICE = ("alice", "secret")
INVALID = 11002


class Account:
    """Alice's account and the control plane: send, move the clock, read."""

    def __init__(self, alice: httpx.Client, control: httpx.Client) -> None:
        self.alice = alice
        self.control = control
        self.now = 0.0

    def send(self, body: dict[str, Any]) -> str:
        response = self.single(body)
        assert response.status_code == 200, response.text
        return str(response.json()["message_id"])

    def single(self, body: dict[str, Any]) -> httpx.Response:
        return self.alice.post(str(self.alice.base_url).rstrip("/"), json=body)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.alice.post(path, json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def get(self, path: str) -> dict[str, Any]:
        response = self.alice.get(path)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def at(self, seconds: float) -> None:
        """Move alice's clock to the start + `seconds`, running every due event."""
        response = self.control.post(
            "/clock/advance", json={"seconds": seconds - self.now, "client_id": "1001"}
        )
        assert response.status_code == 200, response.text
        self.now = seconds

    def inspect(self, message_id: str) -> dict[str, Any]:
        response = self.control.get(f"/messages/{message_id}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture
def hyber(clients: tuple[httpx.Client, httpx.Client]) -> Account:
    alice, control = clients
    control.post("/reset").raise_for_status()
    return Account(alice, control)


# -- issue 12, point 8: the smaller points ---------------------------------------------------


def test_whatsapp_ttl_below_60_is_accepted(hyber: Account) -> None:
    # The docs give only the maximum (604800); the minimum is whatsapp_min_ttl (default 1).
    body = single_body(
        channels=["whatsapp"], channel_options={"whatsapp": {"ttl": 30, "text": "Hi"}}
    )
    hyber.send(body)
    body["channel_options"]["whatsapp"]["ttl"] = 0
    assert "whatsapp.ttl" in assert_error(hyber.single(body), 400, INVALID)
    body["channel_options"]["whatsapp"]["ttl"] = 604801
    assert_error(hyber.single(body), 400, INVALID)


@pytest.mark.parametrize("extra_id", ["AD 1/2", "a/b", "x%y", "50%/off?", "é/ü"])
def test_any_extra_id_reads_back_through_the_external_dr(hyber: Account, extra_id: str) -> None:
    message_id = hyber.send(single_body(extra_id=extra_id))
    hyber.at(10)
    path = quote(extra_id, safe="")
    for kind in ("simple", "advanced"):
        report = hyber.get(f"/api/dr/external/{path}/{kind}")
        first = report if kind == "simple" else report["reports"][0]
        assert first["message_id"] == message_id
        assert first["extra_id"] == extra_id


def test_a_late_delivery_does_not_move_the_time_of_the_final_status(hyber: Account) -> None:
    # 380000000008: Viber reaches its ttl (60 s), SMS delivers at +62 s, Viber delivers late
    # at +70 s. The status stays SMS 23011, and so does its time.
    body = single_body(
        phone_number=380000000008,
        channels=["viber", "sms"],
        channel_options={"viber": {"ttl": 60, "text": "Hi"}, "sms": sms_options(text="Hi")},
    )
    message_id = hyber.send(body)
    hyber.at(63)
    before = hyber.get(f"/api/dr/{message_id}/simple")
    assert (before["hyber_status"], before["time"]) == (23011, START_MS + 62_000)
    hyber.at(80)
    after = hyber.get(f"/api/dr/{message_id}/simple")
    assert (after["hyber_status"], after["time"]) == (23011, START_MS + 62_000)
    job_id = hyber.post(
        "/batch",
        {
            "messages": [{"phone_number": 380000000008, "text": "Hi"}],
            "channels": ["viber", "sms"],
            "channel_options": {"viber": {"ttl": 60}, "sms": sms_options()},
        },
    )["job_id"]
    hyber.at(160)  # the batch started at +80 s: SMS delivers at +142 s, Viber late at +150 s
    (item,) = hyber.get(f"/status/{job_id}")["messages"]
    assert (item["hyber_status"], item["time"]) == (23011, START_MS + 142_000)


@pytest.mark.parametrize("alpha_name", [" ", "   "])
def test_a_blank_sms_alpha_name_is_refused(hyber: Account, alpha_name: str) -> None:
    body = single_body(channel_options={"sms": sms_options(text="Hi", alpha_name=alpha_name)})
    assert "alpha_name" in assert_error(hyber.single(body), 400, INVALID)


def test_a_gsm7_escape_pair_is_never_split_across_segments(hyber: Account) -> None:
    text = "a" * 152 + "€" + "a" * 152  # 306 septets, but the € cannot straddle segments
    message_id = hyber.send(single_body(channel_options={"sms": sms_options(text=text)}))
    hyber.at(30)
    assert hyber.get(f"/api/dr/{message_id}/simple")["total_sms_parts"] == 3


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_a_non_numeric_client_id_is_404_whatever_the_method(
    server: LiveServer, method: str
) -> None:
    for path in ("/abc/batch", "/abc/batch/sync", "/abc/status/x", "/abc/api/dr/x/simple"):
        response = httpx.request(method, f"{server.url}{path}", auth=ALICE)
        assert_error(response, 404, 10404)


# -- issue 12, point 5: processed and started for scheduled messages -------------------------

LATER = "2031-01-01 00:00:00+00:00"
LATER_S = 157_766_400  # 2031-01-01 is this many seconds after the clock's start


def _scheduled_batch(start_time: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messages": [{"phone_number": 380000000001, "extra_id": "s-1", "text": "Hi"}],
        "channels": ["sms"],
        "channel_options": {"sms": sms_options()},
    }
    if start_time is not None:
        body["start_time"] = start_time
    return body


def test_a_scheduled_recipient_is_not_processed_in_the_sync_answer(hyber: Account) -> None:
    (item,) = hyber.post("/batch/sync", _scheduled_batch(LATER))["messages"]
    assert (item["accepted"], item["processed"]) == (True, False)
    (now,) = hyber.post("/batch/sync", _scheduled_batch(None))["messages"]
    assert (now["accepted"], now["processed"]) == (True, True)


def test_a_message_started_with_delay_shows_started_false(hyber: Account) -> None:
    (item,) = hyber.post("/batch/sync", _scheduled_batch(LATER))["messages"]
    hyber.at(LATER_S + 0.5)  # its start passed: the SMS leg is in progress
    report = hyber.get(f"/api/dr/{item['message_id']}/advanced")
    assert (report["started"], report["processing"]) == (False, True)
    assert report["reports"][0]["last_partner"] == "sms"
    (at_once,) = hyber.post("/batch/sync", _scheduled_batch(None))["messages"]
    hyber.at(LATER_S + 0.6)
    assert hyber.get(f"/api/dr/{at_once['message_id']}/advanced")["started"] is True


# -- issue 12, point 7: broadcast %key% in every parameter ------------------------------------


def test_broadcast_variables_fill_tag_and_callback_url(hyber: Account) -> None:
    with CallbackReceiver() as receiver:
        body = {
            "recipients": [
                {"phone_number": 380000000001, "name": "Ann", "hook": "ann"},
                {"phone_number": 380000000001, "name": "Bob", "hook": "bob"},
                {"phone_number": 380000000001, "name": "Cy", "hook": "/\\bad host"},
            ],
            "channels": ["sms"],
            "channel_options": {"sms": sms_options(text="Hi %name%")},
            "tag": "promo-%name%",
            "division_code": "div-%name%",
            "callback_url": f"{receiver.base_url}/%hook%",
        }
        items = hyber.post("/broadcast/sync", body)["messages"]
        assert [item["accepted"] for item in items] == [True, True, False]
        assert items[2]["error_code"] == 36031
        assert "callback_url" in items[2]["error_text"]
        shown = hyber.inspect(items[0]["message_id"])
        assert (shown["tag"], shown["callback_url"]) == ("promo-Ann", f"{receiver.base_url}/ann")
        found = hyber.control.get("/messages", params={"tag": "promo-Bob"}).json()
        assert [m["message_id"] for m in found["messages"]] == [items[1]["message_id"]]
        hyber.at(5)
        receiver.wait_for(2)
        by_path = {request.path: request.body for request in receiver.requests}
        assert by_path["/ann"]["message_id"] == items[0]["message_id"]
        assert by_path["/bob"]["message_id"] == items[1]["message_id"]
        receiver.check()


def test_a_scenario_rule_matches_the_rendered_tag(hyber: Account) -> None:
    rules = {"rules": [{"match": {"tag": "promo-Bob"}, "reject": 36024}]}
    hyber.control.put("/scenarios?client_id=1001", json=rules).raise_for_status()
    body = {
        "recipients": [
            {"phone_number": 380961111111, "name": "Ann"},
            {"phone_number": 380962222222, "name": "Bob"},
        ],
        "channels": ["sms"],
        "channel_options": {"sms": sms_options(text="Hi")},
        "tag": "promo-%name%",
    }
    items = hyber.post("/broadcast/sync", body)["messages"]
    assert [item["accepted"] for item in items] == [True, False]


def test_a_too_long_rendered_tag_rejects_that_recipient(hyber: Account) -> None:
    body = {
        "recipients": [
            {"phone_number": 380961111111, "name": "Ann"},
            {"phone_number": 380962222222, "name": "x" * 70},
        ],
        "channels": ["sms"],
        "channel_options": {"sms": sms_options(text="Hi")},
        "tag": "%name%",
    }
    items = hyber.post("/broadcast/sync", body)["messages"]
    assert [item["accepted"] for item in items] == [True, False]
    assert "tag" in items[1]["error_text"]


# -- issue 12, point 4: delivery reports become readable some seconds after the send ----------

NOT_READY = 11010


def test_a_delivery_report_is_not_readable_for_10_seconds_after_the_send() -> None:
    settings = Settings(accounts="1001:alice:secret", seed=1, clock_frozen=True)  # defaults
    with (
        LiveServer(settings) as live,
        httpx.Client(base_url=f"{live.url}/1001", auth=ALICE, timeout=30) as alice,
        httpx.Client(base_url=f"{live.url}/_mock", timeout=30) as control,
    ):
        hyber = Account(alice, control)
        message_id = hyber.send(single_body(extra_id="early-1"))
        paths = [f"/api/dr/{message_id}/{kind}" for kind in ("simple", "advanced")]
        paths += [f"/api/dr/external/early-1/{kind}" for kind in ("simple", "advanced")]
        for path in paths:
            assert "not available" in assert_error(hyber.alice.get(path), 404, NOT_READY)
        hyber.at(9.999)
        assert_error(hyber.alice.get(paths[0]), 404, NOT_READY)
        hyber.at(10)
        for path in paths:
            hyber.get(path)
        # The inspection API is not held back.
        assert hyber.inspect(message_id)["message_id"] == message_id


def test_the_delay_is_a_setting() -> None:
    settings = Settings(accounts="1001:alice:secret", seed=1, clock_frozen=True, dr_delay=0)
    with (
        LiveServer(settings) as live,
        httpx.Client(base_url=live.url, auth=ALICE, timeout=30) as http,
    ):
        response = http.post("/1001", json=single_body())
        message_id = response.json()["message_id"]
        assert http.get(f"/1001/api/dr/{message_id}/simple").status_code == 200


# -- issue 12, point 3: ctr rewrites links before the SMS segments are counted ---------------

LONG_URL = "https://example.com/campaign/" + "x" * 121  # 150 characters
SHORT_LINK = re.compile(r"https?://\S+")


def _ctr_sms(text: str, ctr: bool = True) -> dict[str, Any]:
    return single_body(
        phone_number=380000000001,
        channel_options={"sms": sms_options(text=text, ctr=ctr)},
    )


def test_ctr_links_are_counted_at_their_tracked_length(hyber: Account) -> None:
    text = "Your order is ready, see the details and the map here: " + LONG_URL + " ."
    assert len(text) == 207
    tracked = hyber.send(_ctr_sms(text))
    plain = hyber.send(_ctr_sms(text, ctr=False))
    hyber.at(10)
    assert hyber.get(f"/api/dr/{tracked}/simple")["total_sms_parts"] == 1  # 85 characters
    assert hyber.get(f"/api/dr/{plain}/simple")["total_sms_parts"] == 2


def test_a_text_over_the_limit_only_before_shortening_is_accepted(hyber: Account) -> None:
    text = "a" * 700 + " " + LONG_URL  # 851 characters: 6 segments, 5 once the link is 28
    hyber.send(_ctr_sms(text))
    assert "segments" in assert_error(hyber.single(_ctr_sms(text, ctr=False)), 400, INVALID)
    batch = {
        "messages": [{"phone_number": 380961111111, "text": text}],
        "channels": ["sms"],
        "channel_options": {"sms": sms_options(ctr=True)},
    }
    assert hyber.post("/batch/sync", batch)["messages"][0]["accepted"]
    broadcast = {
        "recipients": [{"phone_number": 380961111111, "url": LONG_URL}],
        "channels": ["sms"],
        "channel_options": {"sms": sms_options(text="a" * 700 + " %url%", ctr=True)},
    }
    assert hyber.post("/broadcast/sync", broadcast)["messages"][0]["accepted"]


def test_the_inspection_api_shows_the_rewritten_text(hyber: Account) -> None:
    batch = {
        "messages": [
            {"phone_number": 380961111111, "text": "See " + LONG_URL + " now"},
            {"phone_number": 380962222222, "text": "See " + LONG_URL + " now"},
        ],
        "channels": ["viber", "sms"],
        "channel_options": {
            "viber": {"ttl": 60, "ctr": True, "action": LONG_URL, "caption": "Open"},
            "sms": sms_options(),  # no ctr: its text stays as sent
        },
    }
    items = hyber.post("/batch/sync", batch)["messages"]
    links = []
    for item in items:
        shown = hyber.inspect(item["message_id"])
        viber = shown["ctr"]["viber"]
        (link,) = SHORT_LINK.findall(viber["text"])
        assert len(link) == 28 and viber["text"] == f"See {link} now"
        assert len(viber["action"]) == 28
        assert viber["links"][link] == LONG_URL
        assert "sms" not in shown["ctr"]
        links.append(link)
    assert links[0] != links[1]  # unique per phone number


# -- issue 12, point 2: Viber templates registered per account --------------------------------


def _viber_text(text: str, phone: int = 380000000001) -> dict[str, Any]:
    return single_body(
        phone_number=phone, channels=["viber"], channel_options={"viber": {"ttl": 60, "text": text}}
    )


def test_registered_templates_decide_the_viber_template_status(hyber: Account) -> None:
    templates = {"templates": [{"id": 6349599, "text": "Your code is {{code}}"}]}
    answer = hyber.control.put("/viber-templates?client_id=1001", json=templates)
    assert answer.status_code == 200, answer.text
    first = hyber.send(_viber_text("Your code is 1234"))
    second = hyber.send(_viber_text("Your code is 9999"))
    other = hyber.send(_viber_text("Hello there"))
    hyber.at(10)
    for message_id in (first, second):
        report = hyber.get(f"/api/dr/{message_id}/simple")
        assert (report["hyber_status"], report["matching_template_id"]) == (23043, 6349599)
    report = hyber.get(f"/api/dr/{other}/simple")
    assert (report["hyber_status"], report["matching_template_id"]) == (23033, 0)
    (leg,) = hyber.get(f"/api/dr/{other}/advanced")["reports"]
    assert (leg["hyber_status"], leg["matching_template_id"]) == (23033, 0)


def test_without_registered_templates_viber_messages_are_ordinary(hyber: Account) -> None:
    hyber.control.put("/viber-templates?client_id=1001", json={"templates": []})
    message_id = hyber.send(_viber_text("Your code is 1234"))
    hyber.at(10)
    report = hyber.get(f"/api/dr/{message_id}/simple")
    assert report["hyber_status"] == 23033 and "matching_template_id" not in report


def test_a_bad_template_registry_is_refused(hyber: Account) -> None:
    for bad in (
        {"templates": [{"id": 0, "text": "x"}]},
        [{"id": 1, "text": "a"}, {"id": 1, "text": "b"}],
    ):
        assert_error(hyber.control.put("/viber-templates", json=bad), 400, INVALID)


# -- issue 12, point 1: the WhatsApp 24-hour session window -----------------------------------

WHATSAPP_SESSION = {"ttl": 3600, "text": "Your photo", "img": "https://example.com/i.png"}
WHATSAPP_TEMPLATE = {"ttl": 3600, "text": "Your code is 1234"}  # text only: a template's shape


def _whatsapp_then_sms(phone: int, whatsapp: dict[str, Any]) -> dict[str, Any]:
    return single_body(
        phone_number=phone,
        channels=["whatsapp", "sms"],
        channel_options={"whatsapp": dict(whatsapp), "sms": sms_options(text="Fallback")},
    )


def _legs(hyber: Account, message_id: str) -> list[tuple[str, int]]:
    report = hyber.get(f"/api/dr/{message_id}/advanced")
    # Read (24053) is delivered too.
    return [
        (leg["last_partner"], 23053 if leg["hyber_status"] == 24053 else leg["hyber_status"])
        for leg in report["reports"]
    ]


def _scenario_all_delivered(hyber: Account) -> None:
    # Every leg the profile would decide is delivered after 2 s: only the session differs.
    profile = {"profile": {ch: {"outcomes": {"delivered": 1.0}} for ch in ("whatsapp", "sms")}}
    hyber.control.put("/scenarios?client_id=1001", json=profile).raise_for_status()


def test_a_session_message_without_a_session_fails_and_cascades(hyber: Account) -> None:
    _scenario_all_delivered(hyber)
    closed = hyber.send(_whatsapp_then_sms(380961111111, WHATSAPP_SESSION))
    template = hyber.send(_whatsapp_then_sms(380962222222, WHATSAPP_TEMPLATE))
    hyber.at(600)
    assert _legs(hyber, closed) == [("whatsapp", 36057), ("sms", 23011)]
    assert hyber.get(f"/api/dr/{closed}/advanced")["reports"][0]["time"] == START_MS + 1000
    assert _legs(hyber, template) == [("whatsapp", 23053)]


def test_a_session_opened_by_the_user_lasts_24_hours(hyber: Account) -> None:
    _scenario_all_delivered(hyber)
    opened = hyber.control.post("/whatsapp-sessions", json={"phone": "380961111111"})
    assert opened.status_code == 200, opened.text
    inside = hyber.send(_whatsapp_then_sms(380961111111, WHATSAPP_SESSION))
    hyber.at(24 * 3600 - 1)
    assert _legs(hyber, inside) == [("whatsapp", 23053)]
    sessions = hyber.control.get("/whatsapp-sessions?client_id=1001").json()
    assert sessions["whatsapp_sessions"]["1001"]["sessions"][0]["open"] is True
    hyber.at(24 * 3600)  # the window has closed
    after = hyber.send(_whatsapp_then_sms(380961111111, WHATSAPP_SESSION))
    hyber.at(24 * 3600 + 600)
    assert _legs(hyber, after)[0] == ("whatsapp", 36057)


def test_the_session_magic_number_is_always_in_session(hyber: Account) -> None:
    _scenario_all_delivered(hyber)
    message_id = hyber.send(_whatsapp_then_sms(380000000009, WHATSAPP_SESSION))
    hyber.at(600)
    assert _legs(hyber, message_id) == [("whatsapp", 23053)]


def test_an_inbound_whatsapp_message_opens_a_session() -> None:
    with CallbackReceiver() as receiver:
        settings = Settings(
            accounts="1001:alice:secret",
            seed=1,
            clock_frozen=True,
            dr_delay=0,
            inbound_url=receiver.url,
        )
        with (
            LiveServer(settings) as live,
            httpx.Client(base_url=f"{live.url}/1001", auth=ALICE, timeout=30) as alice,
            httpx.Client(base_url=f"{live.url}/_mock", timeout=30) as control,
        ):
            hyber = Account(alice, control)
            _scenario_all_delivered(hyber)
            reply = {"phone": "380961111111", "channel": "whatsapp", "text": "hi"}
            assert control.post("/inbound", json=reply).status_code == 202
            message_id = hyber.send(_whatsapp_then_sms(380961111111, WHATSAPP_SESSION))
            hyber.at(600)
            assert _legs(hyber, message_id) == [("whatsapp", 23053)]


def test_every_number_in_session_is_a_setting() -> None:
    settings = Settings(
        accounts="1001:alice:secret",
        seed=1,
        clock_frozen=True,
        dr_delay=0,
        whatsapp_sessions="always",
    )
    with (
        LiveServer(settings) as live,
        httpx.Client(base_url=f"{live.url}/1001", auth=ALICE, timeout=30) as alice,
        httpx.Client(base_url=f"{live.url}/_mock", timeout=30) as control,
    ):
        hyber = Account(alice, control)
        _scenario_all_delivered(hyber)
        message_id = hyber.send(_whatsapp_then_sms(380961111111, WHATSAPP_SESSION))
        hyber.at(600)
        assert _legs(hyber, message_id) == [("whatsapp", 23053)]


# -- the docs' conformance table names tests that exist -----------------------------------


def test_the_conformance_table_names_existing_tests() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    page = (root / "docs" / "hyber-behaviour.md").read_text(encoding="utf-8")
    table = page.split("## Conformance to the Hyber docs", 1)[1].split("\n## ", 1)[0]
    references = re.findall(r"`(test_\w+\.py)::(test_\w+)`", table)
    assert len(references) >= 30
    for file, test in references:
        source = (root / "tests" / file).read_text(encoding="utf-8")
        assert f"def {test}(" in source, f"{file}::{test}"
