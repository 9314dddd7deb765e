"""SMS segment counting (GSM-7 and UCS-2), and the parts stored for each accepted message."""

from __future__ import annotations

import httpx
import pytest

from mock_hyber.engine.sms import is_gsm7, is_gsm7_alpha_name, segment_count
from mock_hyber.testing.server import LiveServer
from tests.bodies import PHONE_1, batch_body, broadcast_body, single_body, sms_options

EMOJI = "\U0001f600"  # outside the Basic Multilingual Plane: two UCS-2 units

GSM_SPECIALS = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà\r"

SEGMENTS = [
    ("empty", "", 0),
    ("gsm_1", "a", 1),
    ("gsm_160", "a" * 160, 1),
    ("gsm_161", "a" * 161, 2),
    ("gsm_306", "a" * 306, 2),
    ("gsm_307", "a" * 307, 3),
    ("gsm_765", "a" * 765, 5),
    ("gsm_766", "a" * 766, 6),
    ("gsm_basic_specials_160", GSM_SPECIALS + "a" * (160 - len(GSM_SPECIALS)), 1),
    ("gsm_basic_specials_161", GSM_SPECIALS + "a" * (161 - len(GSM_SPECIALS)), 2),
    ("gsm_newline_counts_1", "\n" * 160, 1),
    ("extension_80_euro", "€" * 80, 1),
    ("extension_81_euro", "€" * 81, 2),
    ("extension_159_plus_caret", "a" * 159 + "^", 2),
    ("extension_158_plus_caret", "a" * 158 + "^", 1),
    ("extension_all_once", "\f^{}\\[~]|€", 1),
    ("extension_153_units", "{" * 76 + "a", 1),
    ("extension_306_units", "[" * 153, 3),  # a pair never straddles: 76 pairs a segment
    ("extension_pair_at_a_boundary", "a" * 152 + "€" + "a" * 152, 3),
    ("extension_pair_fits_a_boundary", "a" * 151 + "€" + "a" * 153, 2),
    ("extension_307_units", "[" * 153 + "a", 3),
    ("ucs2_1", "ж", 1),
    ("ucs2_70", "ж" * 70, 1),
    ("ucs2_71", "ж" * 71, 2),
    ("ucs2_134", "ж" * 134, 2),
    ("ucs2_135", "ж" * 135, 3),
    ("ucs2_335", "ж" * 335, 5),
    ("ucs2_336", "ж" * 336, 6),
    ("one_cyrillic_makes_all_ucs2", "a" * 69 + "ж", 1),
    ("one_cyrillic_makes_all_ucs2_71", "a" * 70 + "ж", 2),
    ("lowercase_c_cedilla_is_not_gsm", "ç" * 71, 2),
    ("emoji_35", EMOJI * 35, 1),
    ("emoji_36", EMOJI * 36, 2),
    ("emoji_plus_69", EMOJI + "a" * 69, 2),
    ("emoji_plus_68", EMOJI + "a" * 68, 1),
    ("emoji_67", EMOJI * 67, 2),
    ("emoji_68", EMOJI * 68, 3),
    ("bmp_symbol_counts_1", "\u2603" * 70, 1),
]


@pytest.mark.parametrize(("text", "parts"), [c[1:] for c in SEGMENTS], ids=[c[0] for c in SEGMENTS])
def test_segment_count(text: str, parts: int) -> None:
    assert segment_count(text) == parts


def test_gsm7_detection() -> None:
    assert is_gsm7("Hello, World! 100% @home")
    assert is_gsm7("{[~]}|^€\\")
    assert not is_gsm7("Привіт")
    assert not is_gsm7(EMOJI)
    assert not is_gsm7("naïve")


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("GMSU", True),
        ("1Shop", True),
        ("Shop & Co", True),
        ("Shop{1}", False),
        ("Шоп", False),
        ("Shop€", False),
        ("Shop|", False),
    ],
)
def test_alpha_name_takes_the_gsm7_basic_alphabet_only(name: str, ok: bool) -> None:
    assert is_gsm7_alpha_name(name) is ok


# -- the stored parts of accepted messages --------------------------------------------------------


def stored_parts(server: LiveServer, job_id: str) -> list[int]:
    account = server.backend.accounts["1001"]
    job = account.store.job(job_id)
    assert job is not None
    return [message.sms_parts for message in account.messages(job)]


def test_batch_stores_the_parts_of_each_items_text(server: LiveServer, alice: httpx.Client) -> None:
    texts = ["a" * 160, "a" * 161, "ж" * 135, EMOJI * 36, "€" * 81, "a" * 765]
    body = batch_body()
    body["messages"] = [{"phone_number": PHONE_1 + i, "text": t} for i, t in enumerate(texts)]
    response = alice.post("/batch", json=body)
    assert response.status_code == 200, response.text
    assert stored_parts(server, response.json()["job_id"]) == [1, 2, 3, 2, 2, 5]


def test_batch_text_from_the_sms_options(server: LiveServer, alice: httpx.Client) -> None:
    body = batch_body()
    body["channel_options"]["sms"]["text"] = "ж" * 71
    body["messages"] = [{"phone_number": PHONE_1}, {"phone_number": PHONE_1 + 1, "text": "hi"}]
    response = alice.post("/batch", json=body)
    assert response.status_code == 200, response.text
    assert stored_parts(server, response.json()["job_id"]) == [2, 1]


def test_no_sms_channel_means_no_parts(server: LiveServer, alice: httpx.Client) -> None:
    body = batch_body(channels=["viber"], channel_options={"viber": {"ttl": 60}})
    body["messages"][0]["text"] = "a" * 500
    response = alice.post("/batch", json=body)
    assert response.status_code == 200, response.text
    assert stored_parts(server, response.json()["job_id"]) == [0, 0]


def test_viber_then_sms_counts_the_sms_text(server: LiveServer, alice: httpx.Client) -> None:
    body = batch_body(channels=["viber", "sms"])
    body["channel_options"]["viber"] = {"ttl": 60}
    body["messages"][0]["text"] = "a" * 400
    response = alice.post("/batch", json=body)
    assert stored_parts(server, response.json()["job_id"]) == [3, 1]


def test_broadcast_counts_the_personalised_text(server: LiveServer, alice: httpx.Client) -> None:
    body = broadcast_body(channel_options={"sms": sms_options(text="Dear %name%")})
    body["recipients"][0]["name"] = "a" * 155  # 160 characters in all
    body["recipients"][1]["name"] = "a" * 156  # 161
    response = alice.post("/broadcast", json=body)
    assert response.status_code == 200, response.text
    assert stored_parts(server, response.json()["job_id"]) == [1, 2]


def test_single_stores_its_parts(server: LiveServer, alice: httpx.Client) -> None:
    body = single_body()
    body["channel_options"]["sms"]["text"] = "Привіт! " * 10  # 80 UCS-2 characters
    response = alice.post(f"{server.url}/1001", json=body)
    assert response.status_code == 200, response.text
    message = server.backend.accounts["1001"].message(response.json()["message_id"])
    assert message.sms_parts == 2
