"""Request dependencies shared by the provider routes: Basic auth and the JSON body."""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any

import orjson
from fastapi import Request
from starlette.exceptions import HTTPException as StarletteHTTPException

from mock_hyber.api.errors import allowed_methods
from mock_hyber.errors import HyberError
from mock_hyber.state import AccountState, Backend


def backend_of(request: Request) -> Backend:
    backend: Backend = request.app.state.backend
    return backend


def _credentials(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login, sep, password = decoded.partition(":")
    return (login, password) if sep else None


async def authenticated_account(client_id: str, request: Request) -> AccountState:
    """The account of the path's client_id, if the Basic credentials are that account's."""
    if not client_id.isdigit():
        if allowed_methods(request):  # e.g. POST /metrics: a known path, another method
            raise StarletteHTTPException(405)
        raise HyberError.named("not_found", f"no such path: {request.url.path}")
    account = backend_of(request).account(client_id)
    credentials = _credentials(request.headers.get("authorization"))
    if credentials is None:
        raise HyberError.named("unauthorized", "Basic credentials are required")
    login, password = credentials
    if account is None or not (
        secrets.compare_digest(login.encode(), account.account.login.encode())
        & secrets.compare_digest(password.encode(), account.account.password.encode())
    ):
        raise HyberError.named("unauthorized", "wrong login or password for this client_id")
    return account


async def json_body(request: Request) -> Any:
    """The parsed body; Content-Type must be application/json (a charset is fine)."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        shown = media_type or "none"
        raise HyberError.named("unsupported_media_type", f"got {shown}")
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise HyberError.named("malformed_json", str(exc)) from None
