"""Small builders of valid request bodies, for tests that change one thing and check the answer.

Each builder returns a fresh dict (mutate it freely) that the server accepts as it is.
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

import httpx

PHONE_1 = 380961111111
PHONE_2 = 380962222222

ERROR_KEYS = {"error_code", "error_text"}
UUID_TEXT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def sms_options(**extra: Any) -> dict[str, Any]:
    return {"ttl": 300, "alpha_name": "GMSU", **extra}


def single_body(**top: Any) -> dict[str, Any]:
    """POST /{client_id}: one SMS."""
    body: dict[str, Any] = {
        "phone_number": PHONE_1,
        "channels": ["sms"],
        "channel_options": {"sms": sms_options(text="Hello")},
    }
    body.update(top)
    return body


def batch_body(**top: Any) -> dict[str, Any]:
    """POST /{client_id}/batch: two SMS recipients, the text per item."""
    body: dict[str, Any] = {
        "messages": [
            {"phone_number": PHONE_1, "extra_id": "b-1", "text": "Hello one"},
            {"phone_number": PHONE_2, "extra_id": "b-2", "text": "Hello two"},
        ],
        "channels": ["sms"],
        "channel_options": {"sms": sms_options()},
    }
    body.update(top)
    return body


def broadcast_body(**top: Any) -> dict[str, Any]:
    """POST /{client_id}/broadcast: two SMS recipients, a %name% template."""
    body: dict[str, Any] = {
        "recipients": [
            {"phone_number": PHONE_1, "extra_id": "r-1", "name": "Ann"},
            {"phone_number": PHONE_2, "extra_id": "r-2", "name": "Bob"},
        ],
        "channels": ["sms"],
        "channel_options": {"sms": sms_options(text="Dear %name%")},
    }
    body.update(top)
    return body


def with_channel(body: dict[str, Any], channel: str, options: dict[str, Any]) -> dict[str, Any]:
    """`body` sending on `channel` only, with these options."""
    body["channels"] = [channel]
    body["channel_options"] = {channel: options}
    return body


def basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def assert_error(response: httpx.Response, status: int, code: int) -> str:
    """The answer is exactly {"error_code": code, "error_text": "..."} with `status`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert type(body["error_code"]) is int
    assert body["error_code"] == code, body
    assert isinstance(body["error_text"], str) and body["error_text"], body
    return str(body["error_text"])


def is_v5_uuid(value: str) -> bool:
    parsed = uuid.UUID(value)
    return (
        parsed.version == 5
        and parsed.variant == uuid.RFC_4122
        and str(parsed) == value
        and UUID_TEXT.fullmatch(value) is not None
    )
