"""Each magic phone number walked through its life over HTTP, on the conftest server's frozen
clock: send, then move virtual time with POST /_mock/clock/advance and read the reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from mock_hyber.testing.server import LiveServer
from tests.bodies import assert_error

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z

M001, M002, M003, M004 = 380000000001, 380000000002, 380000000003, 380000000004
M005, M006, M007, M008 = 380000000005, 380000000006, 380000000007, 380000000008

VIBER_TTL, SMS_TTL, WHATSAPP_TTL = 60, 300, 120
ALICE = ("alice", "secret")


def channel_options(channels: Sequence[str], ctr: bool = False, template: bool = True) -> dict:
    every: dict[str, dict[str, Any]] = {
        "viber": {"ttl": VIBER_TTL, "text": "Hello"},
        "sms": {"ttl": SMS_TTL, "alpha_name": "GMSU", "text": "Hello"},
        "whatsapp": {"ttl": WHATSAPP_TTL, "text": "Hello"},
        "push": {"ttl": 60, "title": "Hi", "text": "Hello"},
    }
    if not template:
        every["viber"]["img"] = "https://example.com/a.png"
    chosen = {channel: every[channel] for channel in channels}
    if ctr:
        for options in chosen.values():
            options["ctr"] = True
    return chosen


class Sim:
    """Alice's account on the frozen clock: send, move time to +t seconds, read reports."""

    def __init__(self, alice: httpx.Client, control: httpx.Client, server: LiveServer) -> None:
        self.alice = alice
        self.control = control
        self.url = server.url
        self.now = 0.0

    # sending
    def send(self, phone: int, channels: Sequence[str], **kw: Any) -> str:
        response = self.single(phone, channels, **kw)
        assert response.status_code == 200, response.text
        return str(response.json()["message_id"])

    def single(self, phone: int, channels: Sequence[str], **kw: Any) -> httpx.Response:
        body = {
            "phone_number": phone,
            "channels": list(channels),
            "channel_options": channel_options(channels, **kw),
        }
        return self.alice.post(f"{self.url}/1001", json=body)

    def batch_body(self, phones: Sequence[int], channels: Sequence[str], **kw: Any) -> dict:
        options = channel_options(channels, **kw)
        for values in options.values():
            values.pop("text", None)  # the text comes from each item
        return {
            "messages": [
                {"phone_number": phone, "extra_id": f"x-{index}", "text": f"Hi {index}"}
                for index, phone in enumerate(phones)
            ],
            "channels": list(channels),
            "channel_options": options,
        }

    def batch(self, phones: Sequence[int], channels: Sequence[str], **kw: Any) -> list[str]:
        """Send a batch; the message ids in item order."""
        response = self.alice.post("/batch/sync", json=self.batch_body(phones, channels, **kw))
        assert response.status_code == 200, response.text
        items = response.json()["messages"]
        assert [item["accepted"] for item in items] == [phone != M004 for phone in phones]
        return [item["message_id"] for item in items]

    def job(self, phones: Sequence[int], channels: Sequence[str], **kw: Any) -> str:
        response = self.alice.post("/batch", json=self.batch_body(phones, channels, **kw))
        assert response.status_code == 200, response.text
        return str(response.json()["job_id"])

    # time
    def at(self, seconds: float) -> None:
        """Move alice's virtual clock to the start + `seconds`, running every due event."""
        assert seconds >= self.now
        response = self.control.post(
            "/clock/advance", json={"seconds": seconds - self.now, "client_id": "1001"}
        )
        assert response.status_code == 200, response.text
        self.now = seconds
        assert response.json()["clocks"]["1001"]["now_ms"] == START_MS + round(seconds * 1000)

    # reading
    def simple(self, message_id: str) -> dict[str, Any]:
        return self._get(f"/api/dr/{message_id}/simple")

    def advanced(self, message_id: str) -> dict[str, Any]:
        return self._get(f"/api/dr/{message_id}/advanced")

    def status(self, job_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._get(f"/status/{job_id}")["messages"]
        return items

    def inspect(self, message_id: str) -> dict[str, Any]:
        response = self.control.get(f"/messages/{message_id}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def _get(self, path: str) -> dict[str, Any]:
        response = self.alice.get(path)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture
def sim(clients: tuple[httpx.Client, httpx.Client], server: LiveServer) -> Sim:
    """A fresh simulation: every account reset (clock back to its frozen start)."""
    alice, control = clients
    control.post("/reset").raise_for_status()
    return Sim(alice, control, server)


def legs(report: dict[str, Any]) -> list[tuple[str, int, int | None, int | None]]:
    """(last_partner, status, substatus, hyber_status) of each leg of an advanced DR."""
    return [
        (leg["last_partner"], leg["status"], leg.get("substatus"), leg.get("hyber_status"))
        for leg in report["reports"]
    ]


def send_one(sim: Sim, how: str, phone: int, channels: Sequence[str], **kw: Any) -> str:
    if how == "single":
        return sim.send(phone, channels, **kw)
    return sim.batch([M001, phone], channels, **kw)[1]


def assert_pending(report: dict[str, Any]) -> None:
    assert report["status"] == -1, report
    assert report["last_partner"] == "hyber"
    assert "substatus" not in report and "hyber_status" not in report


# -- 380000000002: the example --------------------------------------------------------


@pytest.mark.parametrize("how", ["single", "batch"])
def test_002_viber_expires_at_its_ttl_then_sms_delivers(sim: Sim, how: str) -> None:
    message_id = send_one(sim, how, M002, ["viber", "sms"])

    sim.at(59)
    assert_pending(sim.simple(message_id))
    advanced = sim.advanced(message_id)
    assert legs(advanced) == [("viber", 1, 11, 11031)]
    assert advanced["delivered_via"] == "hyber"
    assert advanced["started"] is True and advanced["processing"] is True

    sim.at(61)
    assert_pending(sim.simple(message_id))
    advanced = sim.advanced(message_id)
    assert len(advanced["reports"]) == 2
    viber, sms = advanced["reports"]
    assert (viber["last_partner"], viber["status"], viber["substatus"]) == ("viber", 3, 35)
    assert viber["time"] == START_MS + 60_000
    assert (sms["last_partner"], sms["status"]) == ("sms", 1)
    assert sms["time"] == START_MS + 60_000
    assert "delivered_sms_parts" not in sms
    assert advanced["delivered_via"] == "hyber"
    assert advanced["processing"] is True

    sim.at(63)
    simple = sim.simple(message_id)
    assert simple["status"] == 2
    assert simple["substatus"] == 23
    assert simple["hyber_status"] == 23011
    assert simple["last_partner"] == "sms"
    assert simple["time"] == START_MS + 62_000
    assert simple["total_sms_parts"] == simple["delivered_sms_parts"] == 1
    advanced = sim.advanced(message_id)
    assert legs(advanced) == [("viber", 3, 35, 35035), ("sms", 2, 23, 23011)]
    assert advanced["delivered_via"] == "sms"
    assert advanced["started"] is True and advanced["processing"] is False
    assert advanced["channels"] == [{"channel": "viber", "ttl": 60}, {"channel": "sms", "ttl": 300}]
    assert "clicks" not in advanced and "clicks" not in simple

    view = sim.inspect(message_id)
    assert view["state"] == "delivered"
    assert view["plan"]["source"] == "magic 380000000002"
    moments = view["plan"]["moments"]
    assert [(m["event"], m["channel"], m["at_ms"] - START_MS) for m in moments] == [
        ("start", "viber", 0),
        ("expired", "viber", 60_000),
        ("start", "sms", 60_000),
        ("delivered", "sms", 62_000),
    ]
    assert [m["final"] for m in moments] == [False, False, False, True]
    assert all(m["happened"] for m in moments)


def test_002_delivers_exactly_two_seconds_after_the_fallback(sim: Sim) -> None:
    message_id = sim.send(M002, ["viber", "sms"])
    sim.at(61.999)
    assert_pending(sim.simple(message_id))
    sim.at(62)
    assert sim.simple(message_id)["status"] == 2


def test_002_in_a_batch_campaign_status(sim: Sim) -> None:
    job_id = sim.job([M002, M002], ["viber", "sms"])
    sim.at(61)
    for item in sim.status(job_id):
        assert item["status"] == -1
        assert item["processed"] is True
        assert item["accepted"] is True
    sim.at(63)
    for item in sim.status(job_id):
        assert item["status"] == 2
        assert item["hyber_status"] == 23011
        assert item["status_text"] == "SMS delivered"
        assert item["processed"] is False
        assert item["time"] == START_MS + 62_000


def test_002_whatsapp_first(sim: Sim) -> None:
    message_id = sim.send(M002, ["whatsapp", "sms"])
    sim.at(WHATSAPP_TTL - 1)
    assert legs(sim.advanced(message_id)) == [("whatsapp", 1, 11, 11051)]
    sim.at(WHATSAPP_TTL + 1)
    assert legs(sim.advanced(message_id)) == [("whatsapp", 3, 35, 35055), ("sms", 1, 11, 11011)]
    assert_pending(sim.simple(message_id))
    sim.at(WHATSAPP_TTL + 2)
    advanced = sim.advanced(message_id)
    assert legs(advanced) == [("whatsapp", 3, 35, 35055), ("sms", 2, 23, 23011)]
    assert advanced["delivered_via"] == "sms"


def test_002_sms_only_expires(sim: Sim) -> None:
    message_id = sim.send(M002, ["sms"])
    sim.at(SMS_TTL - 1)
    assert_pending(sim.simple(message_id))
    sim.at(SMS_TTL)
    simple = sim.simple(message_id)
    assert (simple["status"], simple["substatus"], simple["hyber_status"]) == (3, 35, 35015)
    assert simple["last_partner"] == "sms"
    assert "delivered_sms_parts" not in simple


# -- 380000000001: delivered on the first channel -------------------------------------------


@pytest.mark.parametrize("how", ["single", "batch"])
def test_001_delivered_on_the_first_channel(sim: Sim, how: str) -> None:
    message_id = send_one(sim, how, M001, ["viber", "sms"])
    sim.at(0)
    assert_pending(sim.simple(message_id))
    sim.at(0.999)
    assert_pending(sim.simple(message_id))
    sim.at(1)
    simple = sim.simple(message_id)
    assert (simple["status"], simple["substatus"]) == (2, 23)
    assert simple["hyber_status"] == 23043  # a text-only Viber message is a template message
    assert isinstance(simple["matching_template_id"], int)
    assert simple["last_partner"] == "viber"
    assert simple["time"] == START_MS + 1000
    assert "total_sms_parts" not in simple  # SMS was never tried
    advanced = sim.advanced(message_id)
    assert legs(advanced) == [("viber", 2, 23, 23043)]
    assert advanced["delivered_via"] == "viber"
    assert advanced["processing"] is False
    sim.at(SMS_TTL + VIBER_TTL + 10)  # nothing else happens: the cascade stopped
    assert legs(sim.advanced(message_id)) == [("viber", 2, 23, 23043)]


def test_001_non_template_viber(sim: Sim) -> None:
    message_id = sim.send(M001, ["viber", "sms"], template=False)
    sim.at(1)
    simple = sim.simple(message_id)
    assert simple["hyber_status"] == 23033
    assert "matching_template_id" not in simple
    assert sim.advanced(message_id)["delivered_via"] == "viber"


@pytest.mark.parametrize(
    ("channels", "via", "code"),
    [
        (["whatsapp", "sms"], "whatsapp", 23053),
        (["sms"], "sms", 23011),
        (["push", "sms"], "push", 23063),
    ],
)
def test_001_other_first_channels(sim: Sim, channels: list[str], via: str, code: int) -> None:
    message_id = sim.send(M001, channels)
    sim.at(1)
    simple = sim.simple(message_id)
    assert (simple["status"], simple["hyber_status"], simple["last_partner"]) == (2, code, via)
    assert sim.advanced(message_id)["delivered_via"] == via


# -- 380000000003: every channel expires ------------------------------------------------------


@pytest.mark.parametrize("how", ["single", "batch"])
def test_003_every_channel_expires(sim: Sim, how: str) -> None:
    message_id = send_one(sim, how, M003, ["viber", "sms"])
    sim.at(60)
    assert legs(sim.advanced(message_id)) == [("viber", 3, 35, 35035), ("sms", 1, 11, 11011)]
    sim.at(359)
    assert_pending(sim.simple(message_id))
    sim.at(360)
    simple = sim.simple(message_id)
    assert (simple["status"], simple["substatus"], simple["hyber_status"]) == (3, 35, 35015)
    assert simple["last_partner"] == "sms"
    assert simple["time"] == START_MS + 360_000
    assert simple["total_sms_parts"] == 1 and "delivered_sms_parts" not in simple
    advanced = sim.advanced(message_id)
    assert legs(advanced) == [("viber", 3, 35, 35035), ("sms", 3, 35, 35015)]
    assert advanced["delivered_via"] == "hyber"
    assert advanced["processing"] is False
    assert sim.inspect(message_id)["state"] == "failed"


def test_003_campaign_status_item_has_the_error(sim: Sim) -> None:
    job_id = sim.job([M003], ["viber", "sms"])
    sim.at(360)
    (item,) = sim.status(job_id)
    assert item["error_code"] == 35015
    assert item["error_text"] == "SMS expired"
    assert item["processed"] is False and item["accepted"] is True
    assert "status_text" not in item


def test_003_whatsapp_first(sim: Sim) -> None:
    message_id = sim.send(M003, ["whatsapp", "sms"])
    sim.at(WHATSAPP_TTL + SMS_TTL - 1)
    assert_pending(sim.simple(message_id))
    sim.at(WHATSAPP_TTL + SMS_TTL)
    assert legs(sim.advanced(message_id)) == [("whatsapp", 3, 35, 35055), ("sms", 3, 35, 35015)]


def test_003_sms_then_viber_ends_with_the_viber_expiry(sim: Sim) -> None:
    message_id = sim.send(M003, ["sms", "viber"])
    sim.at(SMS_TTL + VIBER_TTL)
    simple = sim.simple(message_id)
    assert (simple["status"], simple["hyber_status"], simple["last_partner"]) == (3, 35035, "viber")


# -- 380000000004: rejected at acceptance -----------------------------------------------------


def test_004_single_is_refused(sim: Sim) -> None:
    response = sim.single(M004, ["viber", "sms"])
    assert_error(response, 400, 36024)
    assert response.json()["error_text"] == "Phone number incorrect"


def test_004_in_a_batch_only_that_recipient_is_refused(sim: Sim) -> None:
    response = sim.alice.post(
        "/batch/sync", json=sim.batch_body([M001, M004, M002], ["viber", "sms"])
    )
    assert response.status_code == 200, response.text
    first, refused, third = response.json()["messages"]
    assert first["accepted"] is True and third["accepted"] is True
    assert refused["accepted"] is False
    assert refused["error_code"] == 36024
    assert refused["error_text"] == "Phone number incorrect"
    assert refused["phone_number"] == "380000000004"
    sim.at(63)
    assert sim.simple(first["message_id"])["status"] == 2
    assert sim.simple(third["message_id"])["status"] == 2


def test_004_in_an_async_batch_status_report(sim: Sim) -> None:
    job_id = sim.job([M004, M001], ["sms"])
    sim.at(1)
    refused, delivered = sim.status(job_id)
    assert refused["accepted"] is False
    assert refused["error_code"] == 36024
    assert refused["error_text"] == "Phone number incorrect"
    assert delivered["accepted"] is True and delivered["status"] == 2


# -- 380000000005: the first channel fails at once ------------------------------------------


@pytest.mark.parametrize("how", ["single", "batch"])
def test_005_not_a_viber_user_then_sms(sim: Sim, how: str) -> None:
    message_id = send_one(sim, how, M005, ["viber", "sms"])
    sim.at(0.5)
    assert legs(sim.advanced(message_id)) == [("viber", 1, 11, 11031)]
    sim.at(1)
    advanced = sim.advanced(message_id)
    assert legs(advanced) == [("viber", 3, 36, 36036), ("sms", 1, 11, 11011)]
    assert advanced["reports"][0]["time"] == START_MS + 1000
    assert_pending(sim.simple(message_id))
    sim.at(2.999)
    assert_pending(sim.simple(message_id))
    sim.at(3)  # far before the Viber ttl of 60 s
    simple = sim.simple(message_id)
    assert (simple["status"], simple["hyber_status"], simple["last_partner"]) == (2, 23011, "sms")
    assert simple["time"] == START_MS + 3000
    advanced = sim.advanced(message_id)
    assert legs(advanced) == [("viber", 3, 36, 36036), ("sms", 2, 23, 23011)]
    assert advanced["delivered_via"] == "sms"


def test_005_code_text_is_not_a_viber_user(sim: Sim) -> None:
    response = sim.control.get("/codes")
    assert response.status_code == 200
    texts = {row["code"]: row["text"] for row in response.json()["hyber_statuses"]}
    assert texts[36036] == "Not a Viber user"
    assert texts[36056] == "Not a WhatsApp user"


def test_005_whatsapp_first(sim: Sim) -> None:
    message_id = sim.send(M005, ["whatsapp", "sms"])
    sim.at(3)
    advanced = sim.advanced(message_id)
    assert legs(advanced) == [("whatsapp", 3, 36, 36056), ("sms", 2, 23, 23011)]
    assert advanced["delivered_via"] == "sms"


def test_005_sms_only_fails(sim: Sim) -> None:
    message_id = sim.send(M005, ["sms"])
    sim.at(1)
    simple = sim.simple(message_id)
    assert (simple["status"], simple["substatus"], simple["hyber_status"]) == (3, 36, 36016)
    assert simple["last_partner"] == "sms"
    assert sim.inspect(message_id)["state"] == "failed"


# -- 380000000006: delivered, seen, clicked ------------------------------------------------


@pytest.mark.parametrize("how", ["single", "batch"])
def test_006_seen_on_viber(sim: Sim, how: str) -> None:
    message_id = send_one(sim, how, M006, ["viber", "sms"])
    sim.at(1)
    assert legs(sim.advanced(message_id)) == [("viber", 2, 23, 23043)]
    sim.at(5.999)
    assert legs(sim.advanced(message_id)) == [("viber", 2, 23, 23043)]
    sim.at(6)
    advanced = sim.advanced(message_id)
    assert legs(advanced) == [("viber", 2, 24, 24033)]
    assert advanced["reports"][0]["time"] == START_MS + 1000  # the delivery's time
    assert advanced["delivered_via"] == "viber"
    simple = sim.simple(message_id)
    assert (simple["status"], simple["hyber_status"], simple["last_partner"]) == (2, 24033, "viber")


def test_006_clicks_with_ctr(sim: Sim) -> None:
    job_id = sim.job([M006], ["viber", "sms"], ctr=True)
    message_id = sim.status(job_id)[0]["message_id"]
    sim.at(1)
    assert sim.status(job_id)[0]["clicks"] == 0
    assert sim.simple(message_id)["clicks"] == 0
    sim.at(10.999)
    assert sim.status(job_id)[0]["clicks"] == 0
    sim.at(11)
    (item,) = sim.status(job_id)
    assert item["clicks"] == 2
    assert item["status"] == 2
    assert sim.simple(message_id)["clicks"] == 2
    assert sim.advanced(message_id)["clicks"] == 2


def test_006_no_clicks_field_without_ctr(sim: Sim) -> None:
    job_id = sim.job([M006], ["viber", "sms"], ctr=False)
    message_id = sim.status(job_id)[0]["message_id"]
    sim.at(30)
    (item,) = sim.status(job_id)
    assert item["status"] == 2 and "clicks" not in item
    assert "clicks" not in sim.simple(message_id)
    assert "clicks" not in sim.advanced(message_id)


def test_006_read_on_whatsapp(sim: Sim) -> None:
    message_id = sim.send(M006, ["whatsapp", "sms"], ctr=True)
    sim.at(11)
    advanced = sim.advanced(message_id)
    assert legs(advanced) == [("whatsapp", 2, 24, 24053)]
    assert advanced["clicks"] == 2


def test_006_sms_is_never_seen(sim: Sim) -> None:
    message_id = sim.send(M006, ["sms"], ctr=True)
    sim.at(30)
    simple = sim.simple(message_id)
    assert (simple["status"], simple["hyber_status"]) == (2, 23011)
    assert simple["clicks"] == 2
    assert [m["event"] for m in sim.inspect(message_id)["plan"]["moments"]] == [
        "start",
        "delivered",
        "click",
    ]


# -- 380000000007: blocked by the platform --------------------------------------------------


@pytest.mark.parametrize("how", ["single", "batch"])
def test_007_blocked(sim: Sim, how: str) -> None:
    message_id = send_one(sim, how, M007, ["viber", "sms"])
    sim.at(0)
    simple = sim.simple(message_id)
    assert (simple["status"], simple["substatus"], simple["hyber_status"]) == (3, 36, 36001)
    assert simple["last_partner"] == "hyber"
    assert "total_sms_parts" not in simple
    advanced = sim.advanced(message_id)
    assert advanced["delivered_via"] == "hyber"
    assert advanced["started"] is False and advanced["processing"] is False
    assert legs(advanced) == [("hyber", 3, 36, 36001)]
    sim.at(400)  # no channel is ever tried
    assert legs(sim.advanced(message_id)) == [("hyber", 3, 36, 36001)]
    assert sim.inspect(message_id)["state"] == "failed"


def test_007_campaign_status_item(sim: Sim) -> None:
    job_id = sim.job([M007], ["sms"])
    sim.at(0)
    (item,) = sim.status(job_id)
    assert item["error_code"] == 36001
    assert item["error_text"] == "Blocked by the platform"
    assert item["accepted"] is True


# -- 380000000008: late delivery on the first channel ------------------------------------------


@pytest.mark.parametrize("how", ["single", "batch"])
def test_008_sms_delivers_then_viber_delivers_late(sim: Sim, how: str) -> None:
    message_id = send_one(sim, how, M008, ["viber", "sms"])
    sim.at(60)
    advanced = sim.advanced(message_id)
    assert [leg[0] for leg in legs(advanced)] == ["viber", "sms"]
    assert advanced["reports"][1]["status"] == 1  # SMS started at the Viber ttl
    assert advanced["reports"][0]["status"] != 2  # Viber not delivered (yet)
    assert_pending(sim.simple(message_id))

    sim.at(62)
    simple = sim.simple(message_id)
    assert (simple["status"], simple["hyber_status"], simple["last_partner"]) == (2, 23011, "sms")
    advanced = sim.advanced(message_id)
    assert advanced["delivered_via"] == "sms"
    assert advanced["reports"][0]["status"] != 2

    sim.at(69.999)
    assert sim.advanced(message_id)["reports"][0]["status"] != 2
    sim.at(70)
    advanced = sim.advanced(message_id)
    assert legs(advanced) == [("viber", 2, 23, 23043), ("sms", 2, 23, 23011)]
    assert advanced["reports"][0]["time"] == START_MS + 70_000
    assert advanced["reports"][1]["time"] == START_MS + 62_000
    assert advanced["delivered_via"] == "sms"
    simple = sim.simple(message_id)
    assert (simple["status"], simple["hyber_status"], simple["last_partner"]) == (2, 23011, "sms")
    moments = sim.inspect(message_id)["plan"]["moments"]
    assert [(m["event"], m["channel"], m["final"]) for m in moments] == [
        ("start", "viber", False),
        ("fallback", "viber", False),
        ("start", "sms", False),
        ("delivered", "sms", True),
        ("late", "viber", False),
    ]


def test_008_whatsapp_first(sim: Sim) -> None:
    message_id = sim.send(M008, ["whatsapp", "sms"])
    sim.at(WHATSAPP_TTL + 2)
    simple = sim.simple(message_id)
    assert (simple["status"], simple["last_partner"]) == (2, "sms")
    sim.at(WHATSAPP_TTL + 10)
    advanced = sim.advanced(message_id)
    assert legs(advanced) == [("whatsapp", 2, 23, 23053), ("sms", 2, 23, 23011)]
    assert advanced["delivered_via"] == "sms"


def test_008_sms_only_delivers_late(sim: Sim) -> None:
    message_id = sim.send(M008, ["sms"])
    sim.at(SMS_TTL + 9)
    assert_pending(sim.simple(message_id))  # past the ttl, nothing else to try: still waiting
    sim.at(SMS_TTL + 10)
    simple = sim.simple(message_id)
    assert (simple["status"], simple["hyber_status"], simple["last_partner"]) == (2, 23011, "sms")
    assert simple["time"] == START_MS + (SMS_TTL + 10) * 1000
    assert sim.advanced(message_id)["delivered_via"] == "sms"


# -- the published table ---------------------------------------------------------------------


def test_magic_table_lists_every_number_with_a_summary(client: httpx.Client) -> None:
    response = client.get("/_mock/magic")
    assert response.status_code == 200
    numbers = response.json()["magic_numbers"]
    by_phone = {entry["phone"]: entry for entry in numbers}
    wanted = {f"38000000000{digit}" for digit in range(1, 9)}
    assert wanted <= set(by_phone)
    for phone in wanted:
        summary = by_phone[phone].get("summary")
        assert isinstance(summary, str) and len(summary) > 10, by_phone[phone]
    assert by_phone["380000000004"]["reject"] == 36024
    assert by_phone["380000000007"]["blocked"] is True
