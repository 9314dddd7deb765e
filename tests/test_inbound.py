"""2-way user replies (RTD chapter 6): POST /_mock/inbound makes a simulated user answer, and the
reply is POSTed to the account's inbound URL in Hyber's shape (Viber: "+" phone and Kyiv local
time; WhatsApp: bare phone, UTC ISO time, umid and media fields)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.callback_helpers import DELIVERED, EXACT_BACKOFF, Mock, batch_body, mock_server
from tests.receiver import Receiver

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
USER = "380971234567"
VIBER_TEXT = f"Text for recipient #0 ({DELIVERED})"


@contextmanager
def inbound_mock(**settings: Any) -> Iterator[tuple[Receiver, Mock]]:
    """A receiver and a mock whose inbound_url points at it (path /inbound)."""
    with Receiver() as receiver:
        url = receiver.url_for("/inbound")
        with mock_server(**{"inbound_url": url, **settings}) as mock:
            yield receiver, mock


def delivered_message(mock: Mock, fixture: str = "batch_viber_sms.json") -> dict[str, Any]:
    """One DELIVERED message (no callback_url), delivered 1 s in; its acceptance item."""
    [item] = mock.batch_sync(batch_body(None, [DELIVERED], name=fixture))
    mock.advance(1)
    return item


def reply(mock: Mock, receiver: Receiver, **fields: Any) -> dict[str, Any]:
    """POST /_mock/inbound (must be accepted) and the body the receiver then gets."""
    before = len(receiver.requests)
    response = mock.inbound(**fields)
    assert response.status_code == 202, response.text
    assert response.json()["kind"] == "inbound"
    mock.advance(0)  # wait for the attempt due now
    requests = receiver.wait_for(before + 1, timeout=5)
    assert len(requests) == before + 1
    body: dict[str, Any] = requests[-1].body
    return body


def assert_error(response: Any, status: int, code: int, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "error_text"}
    assert body["error_code"] == code
    for word in words:
        assert word in body["error_text"], body


# -- replies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "kyiv"),
    [
        ("2026-01-01T00:00:00Z", "2026-01-01 02:01:41"),  # winter: UTC+2
        ("2026-07-01T12:00:00Z", "2026-07-01 15:01:41"),  # summer: UTC+3
    ],
)
def test_viber_reply(start: str, kyiv: str) -> None:
    with inbound_mock(clock_start=start) as (receiver, mock):
        item = delivered_message(mock)
        mock.advance(100)  # the user answers 101 s after the sending
        body = reply(mock, receiver, message_id=item["message_id"], text="yes")
        assert body == {
            "phone": "+" + DELIVERED,
            "time": kyiv,
            "channel": "viber",
            "message_id": item["message_id"],
            "extra_id": item["extra_id"],
            "text_to_subscriber": VIBER_TEXT,
            "text_from_subscriber": "yes",
        }
        [request] = receiver.requests
        assert request.method == "POST"
        assert request.path == "/inbound"
        assert request.header("Content-Type") == "application/json"
        assert request.header("Authorization") is None  # Hyber posts replies without auth
        [entry] = mock.callbacks(kind="inbound")
        assert entry["url"] == receiver.url_for("/inbound")
        assert entry["status"] == "delivered"
        assert entry["message_ids"] == [item["message_id"]]
        assert entry["job_ids"] and entry["body"] == body
        assert mock.callbacks(kind="report") == []


def test_viber_media_reply() -> None:
    with inbound_mock() as (receiver, mock):
        item = delivered_message(mock)
        body = reply(
            mock,
            receiver,
            message_id=item["message_id"],
            media="https://example.com/reply.pdf",
            file_name="reply.pdf",
        )
        # As the docs' media example: a bare phone, and no text key when there is no text.
        assert body == {
            "phone": DELIVERED,
            "time": body["time"],
            "channel": "viber",
            "message_id": item["message_id"],
            "extra_id": item["extra_id"],
            "text_to_subscriber": VIBER_TEXT,
            "media": "https://example.com/reply.pdf",
            "file_name": "reply.pdf",
        }


def test_whatsapp_replies_with_media() -> None:
    with inbound_mock() as (receiver, mock):
        item = delivered_message(mock, "batch_whatsapp_session.json")
        mock.advance(100)
        image = reply(
            mock,
            receiver,
            message_id=item["message_id"],
            text="look",
            image_url="https://example.com/photo.jpg",
        )
        # The keys of the docs' example, in its order: no message_id, extra_id or
        # text_to_subscriber (inbound_reply_keys: extended adds them).
        assert list(image) == [
            "channel",
            "phone",
            "time",
            "umid",
            "text_from_subscriber",
            "image_url",
        ]
        assert image["phone"] == DELIVERED  # bare, no "+"
        assert image["time"] == "2026-01-01T00:01:41Z"  # ISO, UTC
        assert image["channel"] == "whatsapp"
        assert image["text_from_subscriber"] == "look"
        assert image["image_url"] == "https://example.com/photo.jpg"
        assert UUID.match(image["umid"]), image["umid"]
        assert "+" not in json.dumps(image)

        location = reply(mock, receiver, message_id=item["message_id"], location="50.4501,30.5234")
        assert location["location"] == "50.4501,30.5234"
        assert location["channel"] == "whatsapp"
        assert "image_url" not in location and "text_from_subscriber" not in location
        assert None not in location.values()
        for field in ("video_url", "audio_url"):
            body = reply(
                mock, receiver, message_id=item["message_id"], **{field: "https://e.com/m"}
            )
            assert body[field] == "https://e.com/m"
        document = reply(
            mock,
            receiver,
            message_id=item["message_id"],
            text="the contract",
            doc_url="https://example.com/c.pdf",
        )
        assert (document["doc_url"], document["text_from_subscriber"]) == (
            "https://example.com/c.pdf",
            "the contract",
        )


def test_whatsapp_umid_names_the_replied_message() -> None:
    with inbound_mock() as (receiver, mock):
        item = delivered_message(mock, "batch_whatsapp_session.json")
        first = reply(mock, receiver, message_id=item["message_id"], text="one")
        second = reply(mock, receiver, message_id=item["message_id"], text="two")
        assert first["umid"] == second["umid"]
        shown = mock.http.get(f"/_mock/messages/{item['message_id']}").json()
        assert shown["umid"] == first["umid"]  # how a test finds the message replied to


def test_user_initiated_viber_message() -> None:
    with inbound_mock() as (receiver, mock):
        mock.advance(60)
        body = reply(mock, receiver, phone=USER, channel="viber", text="hello")
        assert body == {  # the docs' deep-link example: a bare phone
            "phone": USER,
            "time": "2026-01-01 02:01:00",
            "channel": "viber",
            "text_from_subscriber": "hello",
        }
        [entry] = mock.callbacks(kind="inbound")
        assert entry["message_ids"] == [] and entry["job_ids"] == []


def test_user_initiated_phone_is_normalised() -> None:
    with inbound_mock() as (receiver, mock):
        viber = reply(mock, receiver, phone="+" + USER, channel="viber", text="hi")
        assert viber["phone"] == USER
        whatsapp = reply(mock, receiver, phone="+" + USER, channel="whatsapp", text="hi")
        assert whatsapp["phone"] == USER
        response = mock.inbound(phone="not-a-phone", channel="viber", text="hi")
        assert response.status_code == 400


def test_reply_is_retried_like_a_report() -> None:
    with Receiver(statuses=[503, 200]) as receiver:
        url = receiver.url_for("/inbound")
        with mock_server(inbound_url=url, **EXACT_BACKOFF) as mock:
            item = delivered_message(mock)
            response = mock.inbound(message_id=item["message_id"], text="yes")
            assert response.status_code == 202
            mock.advance(0)
            [entry] = mock.callbacks(kind="inbound")
            assert (entry["status"], entry["response_code"]) == ("pending", 503)
            mock.advance(9)
            assert len(receiver.requests) == 1
            mock.advance(1)
            [entry] = mock.callbacks(kind="inbound")
            assert (entry["status"], entry["attempt_count"]) == ("delivered", 2)
            assert receiver.requests[0].raw == receiver.requests[1].raw


def test_inbound_url_per_account() -> None:
    with Receiver() as receiver:
        accounts = [
            {
                "client_id": "1001",
                "login": "alice",
                "password": "secret",
                "inbound_url": receiver.url_for("/alice"),
            },
            {"client_id": "1002", "login": "bob", "password": "pw"},
        ]
        settings = {"accounts": json.dumps(accounts), "inbound_url": receiver.url_for("/all")}
        with mock_server(**settings) as mock:
            item = delivered_message(mock)
            reply(mock, receiver, message_id=item["message_id"], text="a")
            reply(mock, receiver, client_id="1002", phone=USER, channel="viber", text="b")
            assert [request.path for request in receiver.requests] == ["/alice", "/all"]
            assert len(mock.callbacks(client_id="1002", kind="inbound")) == 1


# -- errors -----------------------------------------------------------------------------------


def test_no_inbound_url_configured() -> None:
    with mock_server() as mock:
        item = delivered_message(mock)
        response = mock.inbound(message_id=item["message_id"], text="yes")
        assert_error(response, 400, 11002, "inbound_url")
        assert mock.callbacks() == []


def test_errors() -> None:
    with inbound_mock() as (receiver, mock):
        viber = delivered_message(mock)
        whatsapp = delivered_message(mock, "batch_whatsapp_session.json")
        cases: list[tuple[dict[str, Any], int, int, tuple[str, ...]]] = [
            # unknown message
            (
                {"message_id": "00000000-0000-5000-8000-000000000000", "text": "x"},
                404,
                11009,
                ("00000000-0000-5000-8000-000000000000",),
            ),
            # a WhatsApp media field on a Viber reply, and the other way round
            (
                {"message_id": viber["message_id"], "image_url": "https://e.com/i.png"},
                400,
                11002,
                ("image_url",),
            ),
            (
                {"message_id": viber["message_id"], "text": "x", "location": "50.4,30.5"},
                400,
                11002,
                ("location",),
            ),
            (
                {"message_id": whatsapp["message_id"], "media": "https://e.com/f.pdf"},
                400,
                11002,
                ("media",),
            ),
            # who answers: neither message_id nor phone
            ({"text": "hello"}, 400, 11002, ()),
            ({"channel": "viber", "text": "hello"}, 400, 11002, ()),
            # a user-initiated message needs its channel, viber or whatsapp
            ({"phone": USER, "text": "hello"}, 400, 11001, ("channel",)),
            ({"phone": USER, "channel": "sms", "text": "hello"}, 400, 11002, ("channel",)),
            # unknown fields and accounts
            ({"message_id": viber["message_id"], "txt": "yes"}, 400, 11002, ("txt",)),
            ({"client_id": "999", "phone": USER, "channel": "viber", "text": "x"}, 404, 10404, ()),
        ]
        for fields, status, code, words in cases:
            assert_error(mock.inbound(**fields), status, code, *words)
        for raw, code in ((b"[1]", 11002), (b"{oops", 10400)):
            assert_error(mock.http.post("/_mock/inbound", content=raw), 400, code)
        mock.advance(0)
        assert receiver.quiet(0.1) == []
        assert mock.callbacks() == []


def test_a_reply_without_text_gets_a_made_up_seeded_one() -> None:
    texts = []
    for _ in range(2):  # two servers with the same seed make up the same reply
        with inbound_mock() as (receiver, mock):
            viber = delivered_message(mock)
            body = reply(mock, receiver, message_id=viber["message_id"])
            texts.append(body["text_from_subscriber"])
            assert body["text_to_subscriber"] == VIBER_TEXT
    assert texts[0] == texts[1]
    assert isinstance(texts[0], str) and len(texts[0].split()) >= 3


def test_extended_whatsapp_replies_name_the_message() -> None:
    with inbound_mock(inbound_reply_keys="extended") as (receiver, mock):
        item = delivered_message(mock, "batch_whatsapp_session.json")
        body = reply(mock, receiver, message_id=item["message_id"], text="ok")
        assert body["message_id"] == item["message_id"]
        assert body["extra_id"] == item["extra_id"]
        assert body["text_to_subscriber"] == VIBER_TEXT


def test_a_reply_leaves_out_what_has_no_value() -> None:
    with inbound_mock() as (receiver, mock):
        [item] = mock.batch_sync(
            {
                "messages": [{"phone_number": int(DELIVERED)}],  # no extra_id
                "channels": ["viber"],
                "channel_options": {"viber": {"ttl": 60, "img": "https://e.com/i.png"}},
            }
        )
        mock.advance(1)
        body = reply(mock, receiver, message_id=item["message_id"], text="nice")
        assert "extra_id" not in body
        # An Image Only original has no text: Table 8.4 says text_to_subscriber is null.
        assert body["text_to_subscriber"] is None
