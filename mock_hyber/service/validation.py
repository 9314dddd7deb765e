"""Request-level validation: turns a parsed JSON body into a checked request model, or raises a
HyberError naming the offending field. Per-recipient checks live in `recipients.py`."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from mock_hyber.callbacks.destinations import Destinations
from mock_hyber.errors import HyberError
from mock_hyber.model import CHANNEL_NAMES
from mock_hyber.schemas.limits import PLACEHOLDER
from mock_hyber.schemas.requests import RequestBase
from mock_hyber.service.timeparse import parse_start_time

Model = TypeVar("Model", bound=BaseModel)

# What each channel needs to have something to send, besides its mandatory fields.
CONTENT_FIELDS = {
    "viber": ("text", "img", "action"),
    "whatsapp": ("text", "img", "doc", "audio", "video", "latitude"),
    "sms": ("text",),
    "push": ("text",),
}


def field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def parse_model(model: type[Model], body: Any, templated: bool = False) -> Model:
    """Validate `body` against `model`, raising the first problem as a Hyber error."""
    if not isinstance(body, dict):
        raise HyberError.named("invalid_parameter", "the request body must be a JSON object")
    try:
        return model.model_validate(body, context={"templated": templated})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        path = field_path(first["loc"]) or "body"
        if first["type"] == "missing":
            raise HyberError.named("missing_parameter", path) from None
        raise HyberError.named("invalid_parameter", f"{path}: {first['msg']}") from None


def check_channels(request: RequestBase, text_from_items: bool) -> None:
    """Channel names, duplicates, one options entry per channel, and something to send."""
    if not request.channels:
        raise HyberError.named("invalid_parameter", "channels: list at least one channel")
    seen: set[str] = set()
    for index, channel in enumerate(request.channels):
        if channel not in CHANNEL_NAMES:
            known = ", ".join(CHANNEL_NAMES)
            raise HyberError.named(
                "unknown_channel", f"channels[{index}]: {channel!r} (known: {known})"
            )
        if channel in seen:
            raise HyberError.named("duplicate_channel", f"channels[{index}]: {channel!r}")
        seen.add(channel)
        options = getattr(request.channel_options, channel)
        if options is None:
            raise HyberError.named("missing_channel_options", f"channel_options.{channel}")
        _check_content(channel, options, text_from_items)


def has_content(channel: str, options: BaseModel) -> bool:
    """Whether the channel's own options hold something to send (besides a batch item text)."""
    return any(getattr(options, name) for name in CONTENT_FIELDS[channel])


def _check_content(channel: str, options: BaseModel, text_from_items: bool) -> None:
    # The declared fields only: an unknown field (kept as an extra) is ignored, as documented.
    fields = options.__dict__
    if not (text_from_items or any(fields[name] for name in CONTENT_FIELDS[channel])):
        where = f"channel_options.{channel}"
        if channel in ("sms", "push"):
            raise HyberError.named("missing_parameter", f"{where}.text")
        wanted = " or ".join(CONTENT_FIELDS[channel])
        raise HyberError.named("missing_parameter", f"{where}: one of {wanted}")
    if fields.get("caption") is not None and fields.get("action") is None:
        where = f"channel_options.{channel}"
        raise HyberError.named("missing_parameter", f"{where}.action (a button needs its URL)")
    if channel == "viber" and fields["file_name"] is not None and fields["action"] is None:
        raise HyberError.named(
            "missing_parameter", f"channel_options.{channel}.action (the file's URL)"
        )
    if channel == "whatsapp" and (fields["latitude"] is None) != (fields["longitude"] is None):
        where = f"channel_options.{channel}"
        raise HyberError.named("missing_parameter", f"{where}: latitude and longitude together")


def check_callback_url(
    url: str | None, destinations: Destinations | None = None, name: str = "callback_url"
) -> None:
    """An http(s) URL that can be delivered to: a well-formed host name or IP address and a
    port within 1-65535 (no DNS look-up: the spec's examples name hosts that need not
    resolve); and only where callbacks may go (see callbacks.destinations: never the mock
    itself, nor link-local addresses; on a shared instance, only to the hosts allowed)."""
    if url is None:
        return
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme, parts.hostname, parts.port
    except ValueError:  # a broken IPv6 literal, a port out of range or not a number
        scheme, host, port = "", None, None
    if scheme not in ("http", "https") or not host or any(c.isspace() for c in url):
        raise HyberError.named("invalid_parameter", f"{name}: must be an http(s) URL")
    if port == 0 or not _well_formed_host(host):
        raise HyberError.named(
            "invalid_parameter", f"{name}: needs a well-formed host and a port in 1-65535"
        )
    refusal = destinations.refusal(url) if destinations is not None else None
    if refusal is not None:
        raise HyberError.named("invalid_parameter", f"{name}: {refusal}")


_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def _well_formed_host(host: str) -> bool:
    """A DNS name (labels of letters, digits, `-` and `_`, a dash neither first nor last) or
    an IP address."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    return len(host) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


def start_time_seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_start_time(value)
    except ValueError:
        raise HyberError.named(
            "invalid_parameter",
            "start_time: expected 'YYYY-MM-DD hh:mm:ss' with an optional offset like +03:00",
        ) from None


def check_request(
    request: RequestBase,
    text_from_items: bool = False,
    destinations: Destinations | None = None,
    whatsapp_min_ttl: int = 1,
    templated: bool = False,
) -> float | None:
    """All request-level rules shared by single, batch and broadcast; returns start_time. In
    a broadcast (`templated`), a callback_url holding %key% is checked per recipient."""
    check_channels(request, text_from_items)
    whatsapp = request.channel_options.whatsapp
    if "whatsapp" in request.channels and whatsapp and whatsapp.ttl < whatsapp_min_ttl:
        raise HyberError.named(
            "invalid_parameter",
            f"channel_options.whatsapp.ttl: Input should be greater than or equal to "
            f"{whatsapp_min_ttl}",
        )
    url = request.callback_url
    if not (templated and url and PLACEHOLDER.search(url)):
        check_callback_url(url, destinations)
    return start_time_seconds(request.start_time)
