"""Scenario rules and profile overrides: PUT /_mock/scenarios (YAML or JSON), what they decide,
their precedence, refusals of bad bodies, and a scenarios file given at start-up."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from mock_hyber.config import Settings
from mock_hyber.engine.rules import parse_scenarios
from mock_hyber.model import State
from mock_hyber.service.accept import SendingService
from mock_hyber.state import Backend
from mock_hyber.testing.server import LiveServer
from tests.bodies import assert_error

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
ALICE = ("alice", "secret")
BOB = ("bob", "pw")
INVALID = 11002

VIBER_FAILS_SMS_DELIVERS_YAML = """
rules:
  - name: viber-device
    summary: Viber fails on an old device, SMS takes 7 s
    match: {phone: "38067.*"}
    channels:
      viber: {outcome: failed, after: 3, code: 36037}
      sms: {outcome: delivered, after: 7}
"""

VIBER_FAILS_SMS_DELIVERS = {
    "rules": [
        {
            "name": "viber-device",
            "match": {"phone": "38067.*"},
            "channels": {
                "viber": {"outcome": "failed", "after": 3, "code": 36037},
                "sms": {"outcome": "delivered", "after": 7},
            },
        }
    ]
}


def channel_options(channels: Sequence[str]) -> dict[str, dict[str, Any]]:
    every: dict[str, dict[str, Any]] = {
        "viber": {"ttl": 60, "text": "Hello"},
        "sms": {"ttl": 300, "alpha_name": "GMSU", "text": "Hello"},
        "whatsapp": {"ttl": 120, "text": "Hello"},
        "push": {"ttl": 60, "title": "Hi", "text": "Hello"},
    }
    return {channel: every[channel] for channel in channels}


class Sim:
    def __init__(self, url: str, alice: httpx.Client, control: httpx.Client) -> None:
        self.url = url
        self.alice = alice
        self.control = control
        self.now = 0.0

    def put(self, body: str | dict[str, Any], **params: str) -> httpx.Response:
        if isinstance(body, dict):
            return self.control.put("/scenarios", json=body, params=params)
        return self.control.put(
            "/scenarios", content=body, params=params, headers={"content-type": "application/yaml"}
        )

    def use(self, body: str | dict[str, Any]) -> None:
        response = self.put(body)
        assert response.status_code == 200, response.text

    def single(self, phone: int, channels: Sequence[str] = ("sms",), **top: Any) -> httpx.Response:
        body = {
            "phone_number": phone,
            "channels": list(channels),
            "channel_options": channel_options(channels),
            **top,
        }
        return self.alice.post(f"{self.url}/1001", json=body)

    def send(self, phone: int, channels: Sequence[str] = ("sms",), **top: Any) -> str:
        response = self.single(phone, channels, **top)
        assert response.status_code == 200, response.text
        return str(response.json()["message_id"])

    def batch(
        self, items: list[dict[str, Any]], channels: Sequence[str] = ("sms",), **top: Any
    ) -> list[dict[str, Any]]:
        options = channel_options(channels)
        for values in options.values():
            values.pop("text")
        body = {"messages": items, "channels": list(channels), "channel_options": options, **top}
        response = self.alice.post("/batch/sync", json=body)
        assert response.status_code == 200, response.text
        result: list[dict[str, Any]] = response.json()["messages"]
        return result

    def at(self, seconds: float) -> None:
        response = self.control.post("/clock/advance", json={"seconds": seconds - self.now})
        assert response.status_code == 200, response.text
        self.now = seconds

    def simple(self, message_id: str) -> dict[str, Any]:
        response = self.alice.get(f"/api/dr/{message_id}/simple")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def legs(self, message_id: str) -> list[tuple[str, int, int | None]]:
        response = self.alice.get(f"/api/dr/{message_id}/advanced")
        assert response.status_code == 200, response.text
        return [
            (leg["last_partner"], leg["status"], leg.get("hyber_status"))
            for leg in response.json()["reports"]
        ]

    def source(self, message_id: str) -> str:
        response = self.control.get(f"/messages/{message_id}")
        assert response.status_code == 200, response.text
        return str(response.json()["plan"]["source"])

    def rules(self, client_id: str = "1001") -> list[dict[str, Any]]:
        response = self.control.get("/scenarios")
        assert response.status_code == 200, response.text
        rules: list[dict[str, Any]] = response.json()["scenarios"][client_id]["rules"]
        return rules


@pytest.fixture
def sim(server: LiveServer, clients: tuple[httpx.Client, httpx.Client]) -> Iterator[Sim]:
    alice, control = clients
    control.post("/reset").raise_for_status()
    yield Sim(server.url, alice, control)
    control.post("/reset").raise_for_status()  # leave the default scenarios behind


# -- a rule's outcomes and delays ---------------------------------------------------------


@pytest.mark.parametrize("form", ["yaml", "json"])
def test_rule_by_phone_gives_per_channel_outcomes_and_delays(sim: Sim, form: str) -> None:
    sim.use(VIBER_FAILS_SMS_DELIVERS_YAML if form == "yaml" else VIBER_FAILS_SMS_DELIVERS)
    assert sim.rules()[0]["name"] == "viber-device"
    message_id = sim.send(380671234567, ["viber", "sms"])
    assert sim.source(message_id) == "scenario viber-device"
    sim.at(2.999)
    assert sim.legs(message_id) == [("viber", 1, 11031)]
    sim.at(3)
    assert sim.legs(message_id) == [("viber", 3, 36037), ("sms", 1, 11011)]
    sim.at(9.999)
    assert sim.simple(message_id)["status"] == -1
    sim.at(10)
    simple = sim.simple(message_id)
    assert (simple["status"], simple["hyber_status"], simple["last_partner"]) == (2, 23011, "sms")
    assert simple["time"] == START_MS + 10_000
    assert sim.legs(message_id) == [("viber", 3, 36037), ("sms", 2, 23011)]


def test_a_json_body_as_yaml_text(sim: Sim) -> None:
    sim.use(json.dumps(VIBER_FAILS_SMS_DELIVERS))
    assert sim.source(sim.send(380671234567, ["viber", "sms"])) == "scenario viber-device"


def test_a_non_matching_phone_uses_the_profile(sim: Sim) -> None:
    sim.use(VIBER_FAILS_SMS_DELIVERS_YAML)
    assert sim.source(sim.send(380931234567, ["viber", "sms"])) == "profile"


def test_legs_by_position_and_otherwise(sim: Sim) -> None:
    sim.use(
        """
rules:
  - name: positions
    match: {phone: "380671.*"}
    legs: [{outcome: expired}]
    otherwise: {outcome: failed, after: 2, event: failed_absent}
"""
    )
    message_id = sim.send(380671000000, ["sms", "viber"])
    sim.at(300 + 2)
    assert sim.legs(message_id) == [("sms", 3, 35015), ("viber", 3, 36036)]
    other = sim.send(380671000001, ["viber", "sms"])  # viber expires, then sms fails "absent"
    sim.at(302 + 60 + 2)
    assert sim.legs(other) == [("viber", 3, 35035), ("sms", 3, 36017)]


def test_rule_by_extra_id(sim: Sim) -> None:
    sim.use(
        {
            "rules": [
                {
                    "name": "bad",
                    "match": {"extra_id": "bad-.*"},
                    "otherwise": {"outcome": "failed", "after": 2},
                }
            ]
        }
    )
    items = sim.batch(
        [
            {"phone_number": 380671111111, "extra_id": "bad-1", "text": "x"},
            {"phone_number": 380671111112, "extra_id": "good-1", "text": "x"},
            {"phone_number": 380671111113, "text": "x"},  # no extra_id: no match
        ]
    )
    ids = [item["message_id"] for item in items]
    assert [sim.source(i) for i in ids] == ["scenario bad", "profile", "profile"]
    sim.at(2)
    simple = sim.simple(ids[0])
    assert (simple["status"], simple["hyber_status"]) == (3, 36016)


def test_rule_by_tag(sim: Sim) -> None:
    sim.use("rules: [{name: promo, match: {tag: 'promo-.*'}, blocked: true}]")
    tagged = sim.send(380671111111, tag="promo-june")
    other = sim.send(380671111111, tag="news")
    untagged = sim.send(380671111111)
    sim.at(0)
    simple = sim.simple(tagged)
    assert (simple["status"], simple["hyber_status"], simple["last_partner"]) == (3, 36001, "hyber")
    assert sim.source(other) == "profile" and sim.source(untagged) == "profile"


def test_rule_by_channel(sim: Sim) -> None:
    sim.use(
        """
rules:
  - name: no-whatsapp
    match: {channel: whatsapp}
    channels: {whatsapp: {outcome: failed, after: 1}}
    otherwise: {outcome: delivered, after: 4}
"""
    )
    with_whatsapp = sim.send(380671111111, ["viber", "whatsapp", "sms"])
    without = sim.send(380671111111, ["viber", "sms"])
    assert sim.source(with_whatsapp) == "scenario no-whatsapp"
    assert sim.source(without) == "profile"
    sim.at(4)
    assert sim.legs(with_whatsapp) == [("viber", 2, 23043)]
    only_whatsapp = sim.send(380671111111, ["whatsapp", "sms"])
    sim.at(4 + 5)
    assert sim.legs(only_whatsapp) == [("whatsapp", 3, 36056), ("sms", 2, 23011)]


def test_reject_at_acceptance(sim: Sim) -> None:
    sim.use("rules: [{name: no-lifecell, match: {phone: '38093.*'}, reject: 36024}]")
    assert_error(sim.single(380931111111), 400, 36024)
    items = sim.batch(
        [
            {"phone_number": 380931111111, "text": "x"},
            {"phone_number": 380671111111, "text": "x"},
        ]
    )
    assert [item["accepted"] for item in items] == [False, True]
    assert items[0]["error_code"] == 36024
    assert items[0]["error_text"] == "Phone number incorrect"


def test_blocked(sim: Sim) -> None:
    sim.use({"rules": [{"match": {"phone": "380671111111"}, "blocked": True}]})
    message_id = sim.send(380671111111, ["viber", "sms"])
    assert sim.source(message_id) == "scenario (unnamed)"
    sim.at(0)
    simple = sim.simple(message_id)
    assert (simple["status"], simple["hyber_status"], simple["last_partner"]) == (3, 36001, "hyber")


def test_seen_and_clicks_from_a_rule(sim: Sim) -> None:
    sim.use(
        "rules: [{match: {phone: '38067.*'}, channels: "
        "{viber: {outcome: delivered, after: 1, seen_after: 2, clicks: 3, clicks_after: 4}}}]"
    )
    body_options = channel_options(["viber"])
    body_options["viber"]["ctr"] = True
    response = sim.alice.post(
        f"{sim.url}/1001",
        json={"phone_number": 380671111111, "channels": ["viber"], "channel_options": body_options},
    )
    message_id = response.json()["message_id"]
    sim.at(3)
    assert sim.legs(message_id) == [("viber", 2, 24033)]
    assert sim.simple(message_id)["clicks"] == 0
    sim.at(5)
    assert sim.simple(message_id)["clicks"] == 3


# -- profile overrides ----------------------------------------------------------------------


def test_profile_override_makes_every_random_sms_fail(sim: Sim) -> None:
    sim.use("profile: {sms: {outcomes: {failed: 1}}}")
    profile = sim.control.get("/scenarios").json()["scenarios"]["1001"]["profile"]
    assert profile["sms"]["outcomes"] == {"failed": 1.0}
    assert profile["viber"]["outcomes"]["delivered"] > 0  # other channels keep the default
    items = sim.batch([{"phone_number": 380671000000 + i, "text": "x"} for i in range(25)])
    ids = [item["message_id"] for item in items]
    sim.at(301)
    for message_id in ids:
        simple = sim.simple(message_id)
        assert simple["status"] == 3
        assert simple["hyber_status"] in (36016, 36017)
        assert sim.source(message_id) == "profile"


def test_profile_override_with_fixed_delays(sim: Sim) -> None:
    sim.use(
        {
            "profile": {
                "sms": {
                    "outcomes": {"delivered": 1},
                    "delivery_delay": {"median": 5, "sigma": 0},
                    "clicks": None,
                }
            }
        }
    )
    items = sim.batch([{"phone_number": 380671000000 + i, "text": "x"} for i in range(10)])
    sim.at(4.999)
    assert all(sim.simple(item["message_id"])["status"] == -1 for item in items)
    sim.at(5)
    assert all(sim.simple(item["message_id"])["status"] == 2 for item in items)


# -- precedence -------------------------------------------------------------------------------


def test_first_matching_rule_wins(sim: Sim) -> None:
    sim.use(
        """
rules:
  - name: first
    match: {phone: "38067.*"}
    otherwise: {outcome: delivered, after: 1}
  - name: second
    match: {phone: "380671111111"}
    otherwise: {outcome: failed, after: 1}
"""
    )
    message_id = sim.send(380671111111)
    assert sim.source(message_id) == "scenario first"
    sim.at(1)
    assert sim.simple(message_id)["status"] == 2


def test_first_matching_rule_wins_over_a_later_reject(sim: Sim) -> None:
    sim.use(
        """
rules:
  - name: first
    match: {phone: "38067.*"}
    otherwise: {outcome: delivered, after: 1}
  - name: refuse
    match: {phone: "380671111111"}
    reject: 36024
"""
    )
    response = sim.single(380671111111)
    assert response.status_code == 200, response.text
    assert sim.source(response.json()["message_id"]) == "scenario first"


def test_magic_numbers_win_over_rules(sim: Sim) -> None:
    sim.use(
        """
rules:
  - name: refuse-magic
    match: {phone: "3800000000.*"}
    reject: 36024
  - name: everything-fails
    match: {phone: ".*"}
    otherwise: {outcome: failed, after: 1}
"""
    )
    delivered = sim.send(380000000001)  # not rejected, not failed
    assert sim.source(delivered) == "magic 380000000001"
    assert_error(sim.single(380000000099), 400, 36024)  # the reject rule itself works
    sim.at(1)
    simple = sim.simple(delivered)
    assert (simple["status"], simple["hyber_status"]) == (2, 23011)


def test_a_message_keeps_the_plan_of_its_acceptance(sim: Sim) -> None:
    sim.use(
        "rules: [{name: old, match: {phone: '38067.*'}, otherwise: {outcome: delivered, after: 5}}]"
    )
    before = sim.send(380671111111)
    sim.use(
        "rules: [{name: new, match: {phone: '38067.*'}, otherwise: {outcome: failed, after: 5}}]"
    )
    after = sim.send(380671111111)
    assert sim.source(before) == "scenario old"
    assert sim.source(after) == "scenario new"
    sim.at(5)
    assert sim.simple(before)["status"] == 2
    assert sim.simple(after)["status"] == 3


def test_a_delayed_job_keeps_the_plan_of_its_acceptance(sim: Sim) -> None:
    sim.use(
        "rules: [{name: old, match: {phone: '38067.*'}, otherwise: {outcome: delivered, after: 5}}]"
    )
    before = sim.send(380671111111, start_time="2026-01-01 00:01:00+00:00")
    sim.use(
        "rules: [{name: new, match: {phone: '38067.*'}, otherwise: {outcome: failed, after: 5}}]"
    )
    sim.at(65)
    assert sim.simple(before)["status"] == 2


def test_reset_restores_the_default_scenarios(sim: Sim) -> None:
    default = sim.control.get("/scenarios").json()["scenarios"]["1001"]
    assert default["rules"] == []
    sim.use(VIBER_FAILS_SMS_DELIVERS_YAML + "\nprofile: {sms: {outcomes: {failed: 1}}}\n")
    assert len(sim.rules()) == 1
    sim.control.post("/reset").raise_for_status()
    assert sim.control.get("/scenarios").json()["scenarios"]["1001"] == default
    assert sim.source(sim.send(380671234567, ["viber", "sms"])) == "profile"


def test_reset_of_one_account(sim: Sim) -> None:
    sim.use(VIBER_FAILS_SMS_DELIVERS_YAML)
    sim.control.post("/reset", params={"client_id": "1002"}).raise_for_status()
    assert sim.rules("1002") == []
    assert len(sim.rules("1001")) == 1


def test_scenarios_of_one_account(sim: Sim) -> None:
    response = sim.put(VIBER_FAILS_SMS_DELIVERS_YAML, client_id="1002")
    assert response.status_code == 200, response.text
    assert set(response.json()["scenarios"]) == {"1002"}
    assert len(sim.rules("1002")) == 1
    assert sim.rules("1001") == []
    assert sim.source(sim.send(380671234567, ["viber", "sms"])) == "profile"
    assert_error(sim.put("rules: []", client_id="9999"), 404, 10404)


# -- bad bodies ---------------------------------------------------------------------------

BAD_BODIES = {
    "unknown outcome": "rules: [{match: {phone: '38.*'}, channels: {sms: {outcome: lost}}}]",
    "unknown channel": "rules: [{channels: {fax: {outcome: delivered}}}]",
    "unknown rule key": "rules: [{match: {phone: '38.*'}, explode: true}]",
    "unknown match key": "rules: [{match: {country: UA}}]",
    "negative delay": "rules: [{otherwise: {outcome: delivered, after: -1}}]",
    "rules not a list": "rules: 5",
    "a scalar": "just text",
    "unknown top-level key": "rulez: []",
    "unknown profile channel": "profile: {fax: {outcomes: {delivered: 1}}}",
    "profile channel not a mapping": "profile: {sms: 3}",
    "unknown profile outcome": "profile: {sms: {outcomes: {lost: 1}}}",
    "negative weights": "profile: {sms: {outcomes: {delivered: -1}}}",
    "probability above one": "profile: {viber: {seen: {probability: 2, delay: {median: 1}}}}",
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_scenarios_are_refused(sim: Sim, body: str) -> None:
    sim.use(VIBER_FAILS_SMS_DELIVERS_YAML)
    assert_error(sim.put(body), 400, INVALID)
    assert [rule["name"] for rule in sim.rules()] == ["viber-device"]  # unchanged


def test_bad_json_scenarios_are_refused(sim: Sim) -> None:
    body = {"rules": [{"match": {"phone": "38.*"}, "otherwise": {"outcome": "maybe"}}]}
    assert_error(sim.put(body), 400, INVALID)


BROKEN_BODIES = {
    "invalid YAML": "rules: [ {: bad",
    "invalid YAML indentation": "rules:\n  - a\n b: [",
    "bad regex": "rules: [{match: {phone: '(38'}, otherwise: {outcome: delivered}}]",
    "bad tag regex": "rules: [{match: {tag: '*promo'}, otherwise: {outcome: delivered}}]",
}


@pytest.mark.parametrize("body", BROKEN_BODIES.values(), ids=BROKEN_BODIES.keys())
def test_broken_scenarios_are_refused(server: LiveServer, body: str) -> None:
    # A fresh connection: the server drops the connection after an unexpected error.
    response = httpx.put(f"{server.url}/_mock/scenarios", content=body)
    # Wait until the server has logged any traceback: CPython 3.11 formats tracebacks with
    # `ast`, whose recursion guard is not thread-safe, and pytest formats the failure next.
    httpx.get(f"{server.url}/_mock/health").raise_for_status()
    assert_error(response, 400, INVALID)


def test_a_huge_delay_is_refused_or_simulated() -> None:
    text = "rules: [{match: {phone: '38067.*'}, legs: [{outcome: late, after: 5000000}]}]"
    try:
        scenarios = parse_scenarios(text)
    except ValidationError:
        return  # refused at upload: fine
    backend = Backend(
        Settings(seed=1, clock_frozen=True, clock_start=datetime(2026, 1, 1, tzinfo=UTC))
    )
    account = backend.accounts["1001"]
    account.use_scenarios(scenarios)
    message = SendingService(account).send_single(
        {
            "phone_number": 380671111111,
            "channels": ["sms"],
            "channel_options": channel_options(["sms"]),
        }
    )
    account.engine.run_until(START_MS + 1000)
    assert message.state is State.ACTIVE


# -- a scenarios file at start-up ----------------------------------------------------------

STARTUP_FILE = """
rules:
  - name: from-file
    match: {phone: "38050.*"}
    channels:
      sms: {outcome: failed, after: 4, event: failed_absent}
profile:
  viber: {outcomes: {expired: 1}}
"""


@pytest.fixture(scope="module")
def file_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    path: Path = tmp_path_factory.mktemp("scenarios") / "scenarios.yaml"
    path.write_text(STARTUP_FILE, encoding="utf-8")
    settings = Settings(
        accounts="1001:alice:secret,1002:bob:pw",
        seed=7,
        clock_frozen=True,
        clock_start="2026-01-01T00:00:00Z",
        scenarios_file=path,
        dr_delay=0,
    )
    with LiveServer(settings) as live:
        yield live


def test_scenarios_file_at_startup(file_server: LiveServer) -> None:
    with (
        httpx.Client(base_url=f"{file_server.url}/1001", auth=ALICE, timeout=30) as alice,
        httpx.Client(base_url=f"{file_server.url}/_mock", timeout=30) as control,
    ):
        control.post("/reset").raise_for_status()
        sim = Sim(file_server.url, alice, control)
        every = control.get("/scenarios").json()["scenarios"]
        for client_id in ("1001", "1002"):
            assert [rule["name"] for rule in every[client_id]["rules"]] == ["from-file"]
            assert every[client_id]["profile"]["viber"]["outcomes"] == {"expired": 1.0}

        from_rule = sim.send(380501234567, ["sms"])
        from_profile = sim.send(380671234567, ["viber", "sms"])  # viber always expires
        assert sim.source(from_rule) == "scenario from-file"
        sim.at(4)
        simple = sim.simple(from_rule)
        assert (simple["status"], simple["hyber_status"]) == (3, 36017)
        sim.at(60)
        assert sim.legs(from_profile)[0] == ("viber", 3, 35035)

        # Replaced by an upload, then back after a reset.
        sim.use("rules: []")
        assert sim.rules() == []
        control.post("/reset").raise_for_status()
        assert [rule["name"] for rule in sim.rules()] == ["from-file"]
        sim.now = 0
        again = sim.send(380501234567, ["sms"])
        assert sim.source(again) == "scenario from-file"


def test_a_bad_scenarios_file_stops_startup(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("rules: [{otherwise: {outcome: lost}}]", encoding="utf-8")
    with pytest.raises(ValidationError):
        Backend(Settings(seed=1, scenarios_file=path))
