"""Bad requests: each one is answered with its 4xx status and exactly
{"error_code": N, "error_text": "..."}, the text naming the offending field. Nothing crashes the
server, whatever the body."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_hyber.codes import load_catalogue
from mock_hyber.errors import HyberError
from mock_hyber.testing.server import LiveServer
from tests.bodies import (
    ERROR_KEYS,
    assert_error,
    basic,
    batch_body,
    broadcast_body,
    single_body,
    sms_options,
    with_channel,
)

# Request error codes (engine/data/codes.yaml, request_errors).
MALFORMED_JSON = 10400
UNAUTHORIZED = 10401
NOT_FOUND = 10404
UNSUPPORTED_MEDIA_TYPE = 10415
MISSING = 11001
INVALID = 11002
UNKNOWN_CHANNEL = 11003
DUPLICATE_CHANNEL = 11004
MISSING_CHANNEL_OPTIONS = 11005
TOO_MANY_RECIPIENTS = 11006
NO_RECIPIENTS = 11007
PHONE_INCORRECT = 36024

ALICE = basic("alice", "secret")
DROP = object()  # an edit that removes the key


def edited(body: dict[str, Any], *edits: tuple[str, Any]) -> dict[str, Any]:
    """`body` with each (dotted path, value) set; list indexes are numbers in the path."""
    for path, value in edits:
        *parents, last = path.split(".")
        target: Any = body
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        key: Any = int(last) if isinstance(target, list) else last
        if value is DROP:
            del target[key]
        else:
            target[key] = value
    return body


def single(*edits: tuple[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: edited(single_body(), *edits)


def batch(*edits: tuple[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: edited(batch_body(), *edits)


def broadcast(*edits: tuple[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: edited(broadcast_body(), *edits)


def on(channel: str, options: dict[str, Any], base: Callable[[], dict[str, Any]] = single_body):
    """A body of `base` sending on `channel` only, with `options`."""
    return lambda: with_channel(base(), channel, copy.deepcopy(options))


VIBER = {"ttl": 60, "text": "Hello"}
PUSH = {"ttl": 60, "title": "News", "text": "Hello"}
WHATSAPP = {"ttl": 604800, "text": "Hello"}


def too_many_recipients() -> dict[str, Any]:
    body = batch_body()
    body["messages"] = [{"phone_number": 380961111111, "text": "x"}] * 50_001
    return body


@dataclass(frozen=True)
class Case:
    id: str
    status: int
    code: int
    names: str | None = None  # must be part of error_text
    path: str = "/batch"  # after /{client_id}
    body: Callable[[], Any] | None = None
    raw: bytes | None = None
    content_type: str | None = "application/json"
    authorization: str | None = ALICE
    client_id: str = "1001"

    def content(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return json.dumps(self.body() if self.body else batch_body()).encode()


BAD_START_TIMES = [
    "2020-12-12",
    "12.12.2020 10:10:10",
    "2020/12/12 10:10:10",
    "2020-13-12 10:10:10",
    "2020-12-32 10:10:10",
    "2020-12-12 25:10:10",
    "2020-12-12 10:10",
    "2020-12-12 10:10:10+25:00",
    "2020-12-12 10:10:10 MSK",
    "tomorrow",
    "",
]

CASES = [
    # -- transport, auth and path ---------------------------------------------------------
    Case("no_auth", 401, UNAUTHORIZED, authorization=None),
    Case("wrong_password", 401, UNAUTHORIZED, authorization=basic("alice", "wrong")),
    Case("other_accounts_credentials", 401, UNAUTHORIZED, authorization=basic("bob", "pw")),
    Case("unknown_client_id", 401, UNAUTHORIZED, client_id="9999"),
    Case("bearer_scheme", 401, UNAUTHORIZED, authorization="Bearer c2VjcmV0"),
    Case("basic_not_base64", 401, UNAUTHORIZED, authorization="Basic !!!not-base64!!!"),
    Case("non_numeric_client_id_batch", 404, NOT_FOUND, "/abc/batch", client_id="abc"),
    Case("non_numeric_client_id_single", 404, NOT_FOUND, "/abc", path="", client_id="abc"),
    Case(
        "content_type_text_plain",
        415,
        UNSUPPORTED_MEDIA_TYPE,
        "text/plain",
        content_type="text/plain",
    ),
    Case("content_type_none", 415, UNSUPPORTED_MEDIA_TYPE, "none", content_type=None),
    Case(
        "content_type_form",
        415,
        UNSUPPORTED_MEDIA_TYPE,
        content_type="application/x-www-form-urlencoded",
    ),
    Case("malformed_json", 400, MALFORMED_JSON, raw=b'{"channels": ["sms"],'),
    Case("empty_body", 400, MALFORMED_JSON, raw=b""),
    Case("not_utf8", 400, MALFORMED_JSON, raw=b'{"tag": "\xff"}'),
    Case("json_array_body", 400, INVALID, "JSON object", raw=b"[]"),
    Case("json_string_body", 400, INVALID, "JSON object", raw=b'"hello"'),
    Case("json_array_body_single", 400, INVALID, "JSON object", path="", raw=b"[1]"),
    # -- channels -------------------------------------------------------------------------
    Case("missing_channels", 400, MISSING, "channels", body=batch(("channels", DROP))),
    Case("channels_not_a_list", 400, INVALID, "channels", body=batch(("channels", "sms"))),
    Case(
        "unknown_channel",
        400,
        UNKNOWN_CHANNEL,
        "channels[1]",
        body=batch(("channels", ["sms", "telegram"])),
    ),
    Case(
        "duplicate_channel",
        400,
        DUPLICATE_CHANNEL,
        "channels[1]",
        body=batch(("channels", ["sms", "sms"])),
    ),
    Case("empty_channels", 400, INVALID, "channels", body=batch(("channels", []))),
    Case(
        "missing_channel_options",
        400,
        MISSING,
        "channel_options",
        body=batch(("channel_options", DROP)),
    ),
    Case(
        "missing_channel_options_entry",
        400,
        MISSING_CHANNEL_OPTIONS,
        "channel_options.viber",
        body=batch(("channels", ["viber", "sms"])),
    ),
    Case(
        "channel_options_entry_not_object",
        400,
        INVALID,
        "channel_options.sms",
        body=batch(("channel_options.sms", "GMSU")),
    ),
    # -- ttl ------------------------------------------------------------------------------
    Case(
        "viber_ttl_39",
        400,
        INVALID,
        "channel_options.viber.ttl",
        path="",
        body=on("viber", {**VIBER, "ttl": 39}),
    ),
    Case(
        "viber_ttl_86401",
        400,
        INVALID,
        "channel_options.viber.ttl",
        path="",
        body=on("viber", {**VIBER, "ttl": 86401}),
    ),
    Case(
        "viber_ttl_missing",
        400,
        MISSING,
        "channel_options.viber.ttl",
        path="",
        body=on("viber", {"text": "Hi"}),
    ),
    Case(
        "sms_ttl_299",
        400,
        INVALID,
        "channel_options.sms.ttl",
        body=batch(("channel_options.sms.ttl", 299)),
    ),
    Case(
        "sms_ttl_259201",
        400,
        INVALID,
        "channel_options.sms.ttl",
        body=batch(("channel_options.sms.ttl", 259201)),
    ),
    Case(
        "sms_ttl_not_a_number",
        400,
        INVALID,
        "channel_options.sms.ttl",
        body=batch(("channel_options.sms.ttl", "soon")),
    ),
    Case(
        "sms_ttl_fraction",
        400,
        INVALID,
        "channel_options.sms.ttl",
        body=batch(("channel_options.sms.ttl", 300.5)),
    ),
    Case(
        "push_ttl_29",
        400,
        INVALID,
        "channel_options.push.ttl",
        path="",
        body=on("push", {**PUSH, "ttl": 29}),
    ),
    Case(
        "whatsapp_ttl_604801",
        400,
        INVALID,
        "channel_options.whatsapp.ttl",
        path="",
        body=on("whatsapp", {**WHATSAPP, "ttl": 604801}),
    ),
    # -- sms ------------------------------------------------------------------------------
    Case(
        "sms_alpha_name_missing",
        400,
        MISSING,
        "channel_options.sms.alpha_name",
        body=batch(("channel_options.sms.alpha_name", DROP)),
    ),
    Case(
        "sms_alpha_name_12_chars",
        400,
        INVALID,
        "channel_options.sms.alpha_name",
        body=batch(("channel_options.sms.alpha_name", "ABCDEFGHIJKL")),
    ),
    Case(
        "sms_alpha_name_cyrillic",
        400,
        INVALID,
        "channel_options.sms.alpha_name",
        body=batch(("channel_options.sms.alpha_name", "Магазин")),
    ),
    Case(
        "sms_alpha_name_gsm_extension_char",
        400,
        INVALID,
        "channel_options.sms.alpha_name",
        body=batch(("channel_options.sms.alpha_name", "Shop{1}")),
    ),
    Case(
        "sms_text_missing_single",
        400,
        MISSING,
        "channel_options.sms.text",
        path="",
        body=single(("channel_options.sms.text", DROP)),
    ),
    Case(
        "sms_text_missing_broadcast",
        400,
        MISSING,
        "channel_options.sms.text",
        path="/broadcast",
        body=broadcast(("channel_options.sms.text", DROP)),
    ),
    Case(
        "sms_text_6_segments_single",
        400,
        INVALID,
        "channel_options.sms.text",
        path="",
        body=single(("channel_options.sms.text", "a" * 766)),
    ),
    Case(
        "sms_text_6_segments_broadcast",
        400,
        INVALID,
        "channel_options.sms.text",
        path="/broadcast/sync",
        body=broadcast(("channel_options.sms.text", "ж" * 336)),
    ),
    # -- viber ----------------------------------------------------------------------------
    Case(
        "viber_nothing_to_send",
        400,
        MISSING,
        "channel_options.viber",
        path="",
        body=on("viber", {"ttl": 60}),
    ),
    Case(
        "viber_text_1001",
        400,
        INVALID,
        "channel_options.viber.text",
        path="",
        body=on("viber", {**VIBER, "text": "v" * 1001}),
    ),
    Case(
        "viber_caption_31",
        400,
        INVALID,
        "channel_options.viber.caption",
        path="",
        body=on("viber", {**VIBER, "caption": "c" * 31, "action": "https://example.com"}),
    ),
    Case(
        "viber_caption_without_action",
        400,
        MISSING,
        "channel_options.viber.action",
        path="",
        body=on("viber", {**VIBER, "caption": "Open"}),
    ),
    Case(
        "viber_img_257",
        400,
        INVALID,
        "channel_options.viber.img",
        path="",
        body=on("viber", {**VIBER, "img": "https://example.com/" + "i" * 237}),
    ),
    Case(
        "viber_action_257",
        400,
        INVALID,
        "channel_options.viber.action",
        path="",
        body=on("viber", {**VIBER, "caption": "Go", "action": "https://example.com/" + "a" * 237}),
    ),
    Case(
        "viber_file_name_bad_extension",
        400,
        INVALID,
        "channel_options.viber.file_name",
        path="",
        body=on("viber", {"ttl": 60, "file_name": "setup.exe", "action": "https://example.com/f"}),
    ),
    Case(
        "viber_file_name_no_extension",
        400,
        INVALID,
        "channel_options.viber.file_name",
        path="",
        body=on("viber", {"ttl": 60, "file_name": "report", "action": "https://example.com/f"}),
    ),
    Case(
        "viber_file_name_26_chars",
        400,
        INVALID,
        "channel_options.viber.file_name",
        path="",
        body=on(
            "viber", {"ttl": 60, "file_name": "f" * 22 + ".pdf", "action": "https://example.com/f"}
        ),
    ),
    Case(
        "viber_file_name_without_action",
        400,
        MISSING,
        "channel_options.viber.action",
        path="",
        body=on("viber", {"ttl": 60, "text": "x", "file_name": "report.pdf"}),
    ),
    Case(
        "viber_device_tablet",
        400,
        INVALID,
        "channel_options.viber.device",
        path="",
        body=on("viber", {**VIBER, "device": "tablet"}),
    ),
    # -- push -----------------------------------------------------------------------------
    Case(
        "push_title_21",
        400,
        INVALID,
        "channel_options.push.title",
        path="",
        body=on("push", {**PUSH, "title": "t" * 21}),
    ),
    Case(
        "push_title_missing",
        400,
        MISSING,
        "channel_options.push.title",
        path="",
        body=on("push", {"ttl": 60, "text": "x"}),
    ),
    Case(
        "push_caption_without_action",
        400,
        MISSING,
        "channel_options.push.action",
        path="",
        body=on("push", {**PUSH, "caption": "Open"}),
    ),
    # -- whatsapp -------------------------------------------------------------------------
    Case(
        "whatsapp_latitude_91",
        400,
        INVALID,
        "channel_options.whatsapp.latitude",
        path="",
        body=on("whatsapp", {**WHATSAPP, "latitude": 91, "longitude": 30}),
    ),
    Case(
        "whatsapp_longitude_minus_181",
        400,
        INVALID,
        "channel_options.whatsapp.longitude",
        path="",
        body=on("whatsapp", {**WHATSAPP, "latitude": 50, "longitude": -181}),
    ),
    Case(
        "whatsapp_latitude_not_a_number",
        400,
        INVALID,
        "channel_options.whatsapp.latitude",
        path="",
        body=on("whatsapp", {**WHATSAPP, "latitude": "north", "longitude": "30.5"}),
    ),
    Case(
        "whatsapp_latitude_without_longitude",
        400,
        MISSING,
        "channel_options.whatsapp",
        path="",
        body=on("whatsapp", {"ttl": 604800, "latitude": "50.438820"}),
    ),
    # -- ctr ------------------------------------------------------------------------------
    Case(
        "ctr_not_a_bool",
        400,
        INVALID,
        "channel_options.sms.ctr",
        body=batch(("channel_options.sms.ctr", "notabool")),
    ),
    # -- batch items ----------------------------------------------------------------------
    Case("batch_missing_messages", 400, MISSING, "messages", body=batch(("messages", DROP))),
    Case(
        "batch_messages_not_a_list",
        400,
        INVALID,
        "messages",
        body=batch(("messages", {"phone_number": 380961111111})),
    ),
    Case(
        "batch_item_not_an_object",
        400,
        INVALID,
        "messages[1]",
        body=batch(("messages.1", 380962222222)),
    ),
    Case("batch_empty_messages", 400, NO_RECIPIENTS, "messages", body=batch(("messages", []))),
    Case("batch_50001_recipients", 400, TOO_MANY_RECIPIENTS, "messages", body=too_many_recipients),
    Case(
        "batch_item_missing_text_for_sms",
        400,
        MISSING,
        "messages[1].text",
        body=batch(("messages.1.text", DROP)),
    ),
    Case(
        "batch_item_text_not_a_string",
        400,
        INVALID,
        "messages[0].text",
        body=batch(("messages.0.text", ["a"])),
    ),
    Case(
        "batch_item_text_6_sms_segments",
        400,
        INVALID,
        "messages[0].text",
        body=batch(("messages.0.text", "a" * 766)),
    ),
    Case(
        "batch_item_text_1001_for_viber",
        400,
        INVALID,
        "messages[0].text",
        path="/batch/sync",
        body=lambda: edited(
            with_channel(batch_body(), "viber", {"ttl": 60}), ("messages.0.text", "v" * 1001)
        ),
    ),
    Case(
        "batch_item_extra_id_65",
        400,
        INVALID,
        "messages[1].extra_id",
        body=batch(("messages.1.extra_id", "e" * 65)),
    ),
    # -- broadcast recipients -------------------------------------------------------------
    Case(
        "broadcast_missing_recipients",
        400,
        MISSING,
        "recipients",
        path="/broadcast",
        body=broadcast(("recipients", DROP)),
    ),
    Case(
        "broadcast_recipient_not_an_object",
        400,
        INVALID,
        "recipients[0]",
        path="/broadcast",
        body=broadcast(("recipients.0", "380961111111")),
    ),
    Case(
        "broadcast_empty_recipients",
        400,
        NO_RECIPIENTS,
        "recipients",
        path="/broadcast/sync",
        body=broadcast(("recipients", [])),
    ),
    Case(
        "broadcast_recipient_extra_id_65",
        400,
        INVALID,
        "recipients[0].extra_id",
        path="/broadcast",
        body=broadcast(("recipients.0.extra_id", "e" * 65)),
    ),
    # -- top-level strings ----------------------------------------------------------------
    Case(
        "single_extra_id_65", 400, INVALID, "extra_id", path="", body=single(("extra_id", "e" * 65))
    ),
    Case(
        "callback_url_257",
        400,
        INVALID,
        "callback_url",
        body=batch(("callback_url", "https://example.com/" + "c" * 237)),
    ),
    Case(
        "callback_url_ftp",
        400,
        INVALID,
        "callback_url",
        body=batch(("callback_url", "ftp://example.com/dr")),
    ),
    Case(
        "callback_url_no_scheme",
        400,
        INVALID,
        "callback_url",
        body=batch(("callback_url", "send-dr-here.com")),
    ),
    Case(
        "callback_url_no_host",
        400,
        INVALID,
        "callback_url",
        body=batch(("callback_url", "https:///dr")),
    ),
    *[
        Case(
            f"callback_url_{name}", 400, INVALID, "callback_url", body=batch(("callback_url", url))
        )
        for name, url in (
            ("port_99999", "http://receiver.example:99999/dr"),
            ("port_0", "http://receiver.example:0/dr"),
            ("port_not_a_number", "http://receiver.example:80a/dr"),
            ("backslash_in_host", "http://exa\\mple.com/dr"),
            ("host_with_a_comma", "http://a,b.example/dr"),
            ("host_label_starting_with_a_dash", "http://-bad.example/dr"),
            ("empty_label", "http://a..example/dr"),
        )
    ],
    Case("tag_65", 400, INVALID, "tag", body=batch(("tag", "t" * 65))),
    Case(
        "division_code_101", 400, INVALID, "division_code", body=batch(("division_code", "d" * 101))
    ),
    *[
        Case(f"start_time_{i}", 400, INVALID, "start_time", body=batch(("start_time", value)))
        for i, value in enumerate(BAD_START_TIMES)
    ],
    Case(
        "start_time_number", 400, INVALID, "start_time", body=batch(("start_time", 20201212101010))
    ),
    # -- the single endpoint's phone number -----------------------------------------------
    Case(
        "single_phone_missing",
        400,
        MISSING,
        "phone_number",
        path="",
        body=single(("phone_number", DROP)),
    ),
]

# -- the control plane (/_mock/...): documented ranges, 4xx, and nothing changed -------------

JOB_NOT_FOUND = 11008
MESSAGE_NOT_FOUND = 11009


@dataclass(frozen=True)
class ControlCase:
    id: str
    method: str
    path: str  # under /_mock, with its query
    status: int
    code: int
    names: str | None = None  # must be part of error_text
    body: Any = None  # sent as JSON when not None
    raw: bytes | None = None


def clock(id: str, body: Any, names: str | None, path: str = "/clock") -> ControlCase:
    return ControlCase(f"clock_{id}", "POST", path, 400, INVALID, names, body=body)


def faults(id: str, body: Any, names: str | None = None) -> ControlCase:
    return ControlCase(f"faults_{id}", "PUT", "/faults", 400, INVALID, names, body=body)


def scenarios(id: str, raw: str, names: str | None = None) -> ControlCase:
    return ControlCase(
        f"scenarios_{id}", "PUT", "/scenarios", 400, INVALID, names, raw=raw.encode()
    )


def messages(id: str, query: str, names: str) -> ControlCase:
    return ControlCase(f"messages_{id}", "GET", f"/messages?{query}", 400, INVALID, names)


def inbound(id: str, body: Any, status: int = 400, code: int = INVALID) -> ControlCase:
    return ControlCase(f"inbound_{id}", "POST", "/inbound", status, code, body=body)


ADVANCE = "/clock/advance"
CONTROL_CASES = [
    # -- clock: speed, frozen, advance and the settle timeout have documented ranges -------
    clock("speed_zero", {"speed": 0}, "speed"),
    clock("speed_negative", {"speed": -1}, "speed"),
    clock("speed_1e308", {"speed": 1e308}, "speed"),
    clock("speed_above_max", {"speed": 1_000_001}, "speed"),
    clock("speed_a_string", {"speed": "fast"}, "speed"),
    clock("frozen_not_a_bool", {"frozen": "maybe"}, "frozen"),
    clock("frozen_a_number", {"frozen": 1}, "frozen"),
    clock("speed_a_numeric_string", {"speed": "2"}, "speed"),
    clock("wait_callbacks_a_number", {"wait_callbacks": 0}, "wait_callbacks", ADVANCE),
    clock("unknown_key", {"sped": 2}, "sped"),
    clock("timeout_zero", {"wait_callbacks": True, "timeout": 0}, "timeout"),
    clock("timeout_above_300", {"wait_callbacks": True, "timeout": 301}, "timeout"),
    clock("advance_negative", {"seconds": -1}, "seconds", ADVANCE),
    clock("advance_1e15", {"seconds": 1e15}, "seconds", ADVANCE),
    clock("advance_above_100_years", {"seconds": 3_153_600_001}, "seconds", ADVANCE),
    clock("advance_a_string", {"seconds": "soon"}, "seconds", ADVANCE),
    clock("freeze_with_speed_zero", {"speed": 0}, "speed", "/clock/freeze"),
    ControlCase("clock_advance_missing_seconds", "POST", ADVANCE, 400, MISSING, "seconds", body={}),
    ControlCase("clock_body_an_array", "POST", "/clock", 400, INVALID, "JSON object", body=[]),
    ControlCase("clock_malformed_json", "POST", "/clock", 400, MALFORMED_JSON, raw=b'{"speed":'),
    ControlCase("clock_nan", "POST", ADVANCE, 400, MALFORMED_JSON, raw=b'{"seconds": NaN}'),
    ControlCase("clock_unknown_account", "POST", "/clock?client_id=9999", 404, NOT_FOUND, "9999"),
    ControlCase(
        "clock_unknown_account_in_body",
        "POST",
        "/clock/resume",
        404,
        NOT_FOUND,
        "9999",
        body={"client_id": "9999"},
    ),
    ControlCase("clock_get_unknown_account", "GET", "/clock?client_id=x", 404, NOT_FOUND),
    ControlCase("reset_unknown_account", "POST", "/reset?client_id=9999", 404, NOT_FOUND),
    # -- long-polls and listings -----------------------------------------------------------
    messages("min_count_zero", "wait=1&min_count=0", "min_count"),
    messages("min_count_above_cap", "wait=1&min_count=1000001", "min_count"),
    messages("min_count_a_word", "min_count=many", "min_count"),
    messages("wait_negative", "wait=-1", "wait"),
    messages("wait_above_300", "wait=301", "wait"),
    messages("wait_a_word", "wait=soon", "wait"),
    messages("limit_negative", "limit=-1", "limit"),
    messages("limit_above_cap", "limit=100001", "limit"),
    messages("unknown_status", "status=lost", "status"),
    messages("unknown_channel", "channel=telegram", "channel"),
    ControlCase("jobs_limit_negative", "GET", "/jobs?limit=-1", 400, INVALID, "limit"),
    ControlCase("jobs_unknown", "GET", "/jobs/no-such-job", 404, JOB_NOT_FOUND, "no-such-job"),
    ControlCase("message_unknown", "GET", "/messages/nope", 404, MESSAGE_NOT_FOUND, "nope"),
    ControlCase("callbacks_unknown_status", "GET", "/callbacks?status=lost", 400, INVALID),
    ControlCase("callbacks_unknown_kind", "GET", "/callbacks?kind=sms", 400, INVALID, "kind"),
    ControlCase("callbacks_limit_negative", "GET", "/callbacks?limit=-1", 400, INVALID, "limit"),
    ControlCase(
        "redeliver_id_not_a_number", "POST", "/callbacks/abc/redeliver", 400, INVALID, "delivery_id"
    ),
    ControlCase("redeliver_unknown", "POST", "/callbacks/999999/redeliver", 404, NOT_FOUND),
    # -- faults ----------------------------------------------------------------------------
    faults("api_not_a_list", {"api": {"status": 500}}, "api"),
    faults("api_fault_doing_nothing", {"api": [{"endpoint": "batch"}]}, "status, drop or latency"),
    faults("api_status_399", {"api": [{"status": 399}]}, "status"),
    faults("api_status_600", {"api": [{"status": 600}]}, "status"),
    faults("api_latency_61", {"api": [{"latency": 61}]}, "latency"),
    faults("api_probability_1_5", {"api": [{"status": 503, "probability": 1.5}]}, "probability"),
    faults("api_count_zero", {"api": [{"status": 503, "count": 0}]}, "count"),
    faults("api_unknown_endpoint", {"api": [{"status": 503, "endpoint": "sms"}]}, "endpoint"),
    faults("api_unknown_key", {"api": [{"status": 503, "when": "always"}]}, "when"),
    faults("callbacks_drop_2", {"callbacks": {"drop": 2}}, "drop"),
    faults("callbacks_delay_negative", {"callbacks": {"delay": {"seconds": -1}}}, "seconds"),
    faults("callbacks_reorder_probability", {"callbacks": {"reorder": {"probability": -0.1}}}),
    faults("unknown_key", {"latency": 1}, "latency"),
    ControlCase("faults_unknown_account", "PUT", "/faults?client_id=9999", 404, NOT_FOUND, body={}),
    # -- scenarios -------------------------------------------------------------------------
    scenarios("yaml_syntax", "rules: [\n", "scenarios"),
    scenarios("unknown_outcome", '{"rules": [{"otherwise": {"outcome": "lost"}}]}', "outcome"),
    scenarios("bad_regex", '{"rules": [{"match": {"phone": "("}}]}', "regular expression"),
    scenarios("unknown_channel", '{"rules": [{"channels": {"telegram": {"outcome": "failed"}}}]}'),
    scenarios("after_negative", '{"rules": [{"otherwise": {"outcome": "failed", "after": -1}}]}'),
    scenarios("after_above_7_days", "rules: [{otherwise: {outcome: failed, after: 604801}}]"),
    scenarios("unknown_key", '{"rulez": []}', "rulez"),
    scenarios("code_negative", '{"rules": [{"otherwise": {"outcome": "failed", "code": -1}}]}'),
    scenarios("code_above_uint32", "rules: [{otherwise: {outcome: failed, code: 4294967296}}]"),
    scenarios("a_number", "42", "scenarios"),
    scenarios("surrogate_in_a_rule_name", '{"rules": [{"name": "\\ud801"}]}', "UTF-8"),
    scenarios("surrogate_in_a_profile_key", '{"profile": {"\\udc00": null}}', "UTF-8"),
    # -- transitions and inbound -----------------------------------------------------------
    ControlCase(
        "transition_unknown_status",
        "POST",
        "/messages/nope/transition",
        400,
        INVALID,
        "status",
        body={"status": "lost"},
    ),
    ControlCase(
        "transition_clicks_zero",
        "POST",
        "/messages/nope/transition",
        400,
        INVALID,
        "clicks",
        body={"status": "clicked", "clicks": 0},
    ),
    ControlCase(
        "transition_code_a_string",
        "POST",
        "/messages/nope/transition",
        400,
        INVALID,
        "code",
        body={"status": "failed", "code": "35015"},
    ),
    ControlCase(
        "transition_unknown_message",
        "POST",
        "/messages/nope/transition",
        404,
        MESSAGE_NOT_FOUND,
        body={"status": "delivered"},
    ),
    inbound("neither_message_nor_phone", {"text": "hi"}),
    inbound("channel_sms", {"phone": "380961111111", "channel": "sms"}),
    inbound("unknown_key", {"phone": "380961111111", "mood": "happy"}),
    inbound("unknown_account", {"phone": "380961111111", "client_id": "9999"}, 404, NOT_FOUND),
    inbound("unknown_message", {"message_id": "nope"}, 404, MESSAGE_NOT_FOUND),
]


def _observable(server: LiveServer, http: httpx.Client) -> list[Any]:
    """What a refused control call must leave as it was."""
    return [
        http.get(f"{server.url}/_mock/{path}").json()
        for path in ("clock", "faults", "scenarios", "callbacks?body=false", "jobs")
    ]


@pytest.mark.parametrize("case", CONTROL_CASES, ids=[case.id for case in CONTROL_CASES])
def test_bad_control_request(server: LiveServer, http: httpx.Client, case: ControlCase) -> None:
    before = _observable(server, http)
    content = case.raw if case.raw is not None else json.dumps(case.body).encode()
    if case.body is None and case.raw is None:
        content = b""
    response = settled(
        server,
        http.request(
            case.method,
            f"{server.url}/_mock{case.path}",
            content=content,
            headers={"Content-Type": "application/json"},
        ),
    )
    text = assert_error(response, case.status, case.code)
    if case.names is not None:
        assert case.names in text, text
    assert _observable(server, http) == before


PHONE_CASES = {
    "too_short": 3809611,
    "plus": "+380961111111",
    "letters": "38096111111a",
    "null": None,
    "float": 380961111111.0,
    "true": True,
    "leading_zero": "0961111111",
    "spaces": "380 96 111 11 11",
    "object": {"number": 380961111111},
}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def post(server: LiveServer, case: Case, http: httpx.Client | None = None) -> httpx.Response:
    """Send `case`; without `http`, on a connection of its own (for requests that may crash a
    handler: the server closes the connection after a 500)."""
    headers = {}
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    if case.authorization is not None:
        headers["Authorization"] = case.authorization
    url = f"{server.url}/{case.client_id}{case.path}"
    if http is None:
        response = httpx.post(url, content=case.content(), headers=headers, timeout=30)
    else:
        response = http.post(url, content=case.content(), headers=headers)
    return settled(server, response)


def settled(server: LiveServer, response: httpx.Response) -> httpx.Response:
    """After a 500, wait until the server has logged its traceback before going on.

    Python 3.11's traceback module parses source with `ast`, whose recursion bookkeeping is
    shared between threads: pytest formatting a failure while the server thread formats its
    traceback can end in "SystemError: AST constructor recursion depth mismatch". The server
    logs before it serves its next request, so one more request is enough to wait.
    """
    if response.status_code >= 500:
        httpx.get(f"{server.url}/_mock/health", timeout=30)
    return response


def test_the_error_codes_match_the_catalogue() -> None:
    codes = {row.name: (row.code, row.http_status) for row in load_catalogue().data.request_errors}
    assert codes["malformed_json"] == (MALFORMED_JSON, 400)
    assert codes["unauthorized"] == (UNAUTHORIZED, 401)
    assert codes["not_found"] == (NOT_FOUND, 404)
    assert codes["unsupported_media_type"] == (UNSUPPORTED_MEDIA_TYPE, 415)
    assert codes["missing_parameter"] == (MISSING, 400)
    assert codes["invalid_parameter"] == (INVALID, 400)
    assert codes["unknown_channel"] == (UNKNOWN_CHANNEL, 400)
    assert codes["duplicate_channel"] == (DUPLICATE_CHANNEL, 400)
    assert codes["missing_channel_options"] == (MISSING_CHANNEL_OPTIONS, 400)
    assert codes["too_many_recipients"] == (TOO_MANY_RECIPIENTS, 400)
    assert codes["no_recipients"] == (NO_RECIPIENTS, 400)
    assert codes["phone_incorrect"] == (PHONE_INCORRECT, 400)


def test_there_are_enough_distinct_bad_requests() -> None:
    """The catalogue cannot shrink silently: at least 100 bad requests, each expecting its
    documented 4xx and the Hyber error body."""
    assert len(CASES) >= 100
    assert len(CONTROL_CASES) >= 60
    assert len(CASES) + len(CONTROL_CASES) + len(PHONE_CASES) >= 170
    ids = [case.id for case in CASES] + [case.id for case in CONTROL_CASES]
    assert len(set(ids)) == len(ids)
    assert all(400 <= case.status < 500 for case in [*CASES, *CONTROL_CASES])


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_request(server: LiveServer, http: httpx.Client, case: Case) -> None:
    response = post(server, case, http)
    text = assert_error(response, case.status, case.code)
    if case.names is not None:
        assert case.names in text, text
    if case.status == 401:
        assert response.headers["www-authenticate"].lower().startswith("basic")


def test_a_rejected_request_stores_nothing(server: LiveServer, alice: httpx.Client) -> None:
    bad = batch_body(tag="t" * 65)
    assert alice.post("/batch", json=bad).status_code == 400
    assert len(server.backend.accounts["1001"].store.jobs) == 0


def test_json_with_a_charset_is_accepted(alice: httpx.Client) -> None:
    response = alice.post(
        "/batch",
        content=json.dumps(batch_body()).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200, response.text
    assert list(response.json()) == ["job_id"]


def test_json_content_type_is_case_insensitive(alice: httpx.Client) -> None:
    response = alice.post(
        "/batch",
        content=json.dumps(batch_body()).encode(),
        headers={"Content-Type": "Application/JSON"},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("phone", list(PHONE_CASES.values()), ids=list(PHONE_CASES))
def test_single_with_an_incorrect_phone(
    server: LiveServer, alice: httpx.Client, phone: Any
) -> None:
    response = alice.post(f"{server.url}/1001", json=single_body(phone_number=phone))
    assert response.status_code == 400
    assert response.json() == {
        "error_code": PHONE_INCORRECT,
        "error_text": "Phone number incorrect",
    }


# -- server bugs, kept visible as strict xfails ----------------------------------------------


def test_callback_url_with_a_broken_ipv6_host(server: LiveServer) -> None:
    case = Case("cb", 400, INVALID, body=batch(("callback_url", "http://[::1/dr")))
    assert "callback_url" in assert_error(post(server, case), 400, INVALID)


def test_deeply_nested_phone_number_is_a_rejected_recipient(server: LiveServer) -> None:
    phone: Any = 0
    for _ in range(300):
        phone = [phone]
    body = batch_body()
    body["messages"][0]["phone_number"] = phone
    case = Case("deep", 200, 0, path="/batch/sync", body=lambda: body)
    response = post(server, case)
    assert response.status_code == 200, response.text
    first = response.json()["messages"][0]
    assert first["accepted"] is False and first["error_code"] == PHONE_INCORRECT


def test_deeply_nested_template_value_does_not_crash(server: LiveServer) -> None:
    value: Any = "x"
    for _ in range(300):
        value = {"k": value}
    body = broadcast_body()
    body["recipients"][0]["name"] = value
    case = Case("deep", 200, 0, path="/broadcast/sync", body=lambda: body)
    response = post(server, case)
    assert response.status_code == 200, response.text
    first, second = response.json()["messages"]
    assert second["accepted"] is True
    assert first["accepted"] is False and first["error_code"] == 36031


def test_batch_item_without_text_when_viber_needs_it(alice: httpx.Client) -> None:
    body = with_channel(batch_body(), "viber", {"ttl": 60})  # template Viber: text per item
    del body["messages"][1]["text"]
    text = assert_error(alice.post("/batch", json=body), 400, MISSING)
    assert "messages[1].text" in text


def test_empty_sms_text_is_rejected(server: LiveServer, alice: httpx.Client) -> None:
    body = single_body()
    body["channel_options"]["sms"]["text"] = ""
    text = assert_error(alice.post(f"{server.url}/1001", json=body), 400, INVALID)
    assert "channel_options.sms.text" in text


# -- never a 500 -------------------------------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["sms", "viber", "push", "whatsapp", "%name%", "380961111111", ""])
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)

# A value of the same JSON type as the one it replaces, to get past type checks more often.
SAME_KIND = {
    str: st.text(max_size=40) | st.sampled_from(["%name%", "https://example.com/%name%"]),
    int: st.integers(min_value=-(2**65), max_value=2**65),
    bool: st.booleans(),
}

VALID_BODIES = {
    "/batch": batch_body,
    "/broadcast/sync": broadcast_body,
    "": single_body,
}


def valid_body_for(path: str) -> dict[str, Any]:
    body = VALID_BODIES[path]()
    # Every channel at once, so a mutation can land in any channel's options.
    body["channels"] = ["push", "viber", "sms", "whatsapp"]
    body["channel_options"] = {
        "push": dict(PUSH),
        "viber": {
            **VIBER,
            "caption": "Go",
            "action": "https://example.com",
            "img": "https://x/i.png",
        },
        "sms": sms_options(text="Hi %name%"),
        "whatsapp": {**WHATSAPP, "latitude": "50.4", "longitude": "30.5"},
    }
    if path == "/batch":
        body["channel_options"]["sms"].pop("text")
    body.update(callback_url="https://example.com/dr", tag="t", start_time="2020-12-12 10:10:10")
    return body


@st.composite
def mutated_bodies(draw: st.DrawFn, path: str) -> Any:
    """A valid body with a few values swapped for random JSON or removed."""
    body: Any = valid_body_for(path)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        target = body
        while True:
            keys = list(range(len(target))) if isinstance(target, list) else list(target)
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            child = target[key]
            if isinstance(child, dict | list) and child and draw(st.integers(0, 3)) > 0:
                target = child
                continue
            if isinstance(target, dict) and draw(st.integers(0, 4)) == 0:
                del target[key]
            else:
                target[key] = draw(SAME_KIND.get(type(child), JSON_VALUES) | JSON_VALUES)
            break
    return body


@st.composite
def garbage_requests(draw: st.DrawFn) -> tuple[str, bytes]:
    path = draw(st.sampled_from(list(VALID_BODIES)))
    kind = draw(st.sampled_from(["mutated", "mutated", "json", "bytes"]))
    if kind == "mutated":
        content = json.dumps(draw(mutated_bodies(path))).encode()
    elif kind == "json":
        content = json.dumps(draw(JSON_VALUES)).encode()
    else:
        content = draw(st.binary(max_size=64))
    return path, content


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(request=garbage_requests())
def test_never_a_500(server: LiveServer, http: httpx.Client, request: tuple[str, bytes]) -> None:
    path, content = request
    response = http.post(
        f"{server.url}/1001{path}",
        content=content,
        headers={"Content-Type": "application/json", "Authorization": ALICE},
    )
    settled(server, response)
    assert response.status_code < 500, (response.status_code, response.text, content)
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == ERROR_KEYS
        assert isinstance(body["error_code"], int) and isinstance(body["error_text"], str)


@pytest.mark.parametrize("path", list(VALID_BODIES), ids=["batch", "broadcast_sync", "single"])
def test_the_bodies_the_fuzzer_mutates_are_valid(alice: httpx.Client, path: str) -> None:
    response = alice.post(f"{alice.base_url}".rstrip("/") + path, json=valid_body_for(path))
    assert response.status_code == 200, response.text


# -- last: the server is still fine ------------------------------------------------------------


def test_the_server_is_still_healthy_and_accepting(server: LiveServer, alice: httpx.Client) -> None:
    health = httpx.get(f"{server.url}/_mock/health", timeout=10)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    response = alice.post("/batch/sync", json=batch_body())
    assert response.status_code == 200, response.text
    assert [item["accepted"] for item in response.json()["messages"]] == [True, True]
    single = alice.post(f"{server.url}/1001", json=single_body())
    assert single.status_code == 200 and list(single.json()) == ["message_id"]


@pytest.mark.parametrize(
    "url",
    [
        "http://receiver:9000/dr",
        "http://my_receiver/dr",  # compose service names may hold underscores
        "http://[::1]:8080/dr",
        "https://example.com:65535/dr?x=1",
        "http://127.0.0.1:1/dr",
        "https://hooks.example.com./dr",
    ],
)
def test_a_deliverable_callback_url_is_accepted(server: LiveServer, url: str) -> None:
    case = Case("ok", 200, 0, body=batch(("callback_url", url)))
    response = post(server, case)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "change",
    [
        {"status": "clicked", "clicks": 304250263527209},
        {"status": "clicked", "clicks": 1_000_001},
        {"status": "seen", "code": -1},
        {"status": "seen", "code": 2**32},
    ],
    ids=["clicks_huge", "clicks_above_max", "code_negative", "code_above_uint32"],
)
def test_a_transition_out_of_range_is_refused_and_the_message_stays_readable(
    server: LiveServer, alice: httpx.Client, change: dict[str, Any]
) -> None:
    message_id = alice.post(f"{server.url}/1001", json=single_body()).json()["message_id"]
    url = f"{server.url}/_mock/messages/{message_id}"
    assert httpx.post(f"{url}/transition", json={"status": "delivered"}).status_code == 200
    before = httpx.get(url).json()
    response = settled(server, httpx.post(f"{url}/transition", json=change, timeout=30))
    field = "clicks" if "clicks" in change else "code"
    assert field in assert_error(response, 400, INVALID)
    assert httpx.get(url).json() == before
    assert alice.get(f"/api/dr/{message_id}/simple").status_code == 200


def test_an_error_text_quoting_a_lone_surrogate_still_encodes() -> None:
    from mock_hyber.api.errors import error_response

    response = error_response(HyberError.named("invalid_parameter", "name: \ud801"))
    assert response.status_code == 400
    assert json.loads(response.body)["error_text"] == "Invalid parameter value: name: ?"
