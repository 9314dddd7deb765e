"""Every error leaves the server as a Hyber-shaped body: {"error_code": N, "error_text": "..."}."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from mock_hyber.api.fault_injection import DroppedConnection
from mock_hyber.api.responses import OrjsonResponse
from mock_hyber.errors import HyberError
from mock_hyber.service.validation import field_path

log = logging.getLogger("mock_hyber")

_BY_HTTP_STATUS = {
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    401: "unauthorized",
}


def error_response(error: HyberError) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="hyber"'} if error.http_status == 401 else None
    if error.http_status == 408:  # the rest of a stalled body must not be read as a request
        headers = {"Connection": "close"}
    return OrjsonResponse(error.body(), status_code=error.http_status, headers=headers)


async def _hyber(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HyberError)
    return error_response(exc.in_catalogue(request.app.state.backend.catalogue))


# The first path segments of routes that are not the provider's `/{client_id}...`.
_FIXED_ROOTS = frozenset(("_mock", "metrics", "docs", "redoc", "openapi.json"))


def _provider_path_of_no_account(request: Request) -> bool:
    """Whether a path some route matched (a 405) is a provider route's with a client_id that
    names no account (not a number): that is an unknown path, whatever the method."""
    first = request.url.path.lstrip("/").split("/", 1)[0]
    return not first.isdigit() and first not in _FIXED_ROOTS


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405 and _provider_path_of_no_account(request):
        return error_response(HyberError.named("not_found"))
    name = _BY_HTTP_STATUS.get(exc.status_code)
    if name is None:
        error = HyberError(10000 + exc.status_code, str(exc.detail), exc.status_code)
    else:
        error = HyberError.named(name)
    response = error_response(error)
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        if allowed:
            response.headers["Allow"] = allowed
    return response


def allowed_methods(request: Request) -> str:
    """Every method the OpenAPI description lists for this path (provider templates aside:
    /{client_id} would match any control path). Starlette's own Allow names only the first
    route that matched: `GET` for /_mock/clock, which also takes POST."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if template.startswith("/{client_id}"):
            continue
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), request.url.path):
            methods.update(method.upper() for method in operations)
    return ", ".join(sorted(methods))


async def _validation(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    loc = tuple(part for part in first.get("loc", ()) if part not in ("query", "body", "path"))
    detail = f"{field_path(loc) or 'request'}: {first.get('msg', 'invalid')}"
    return error_response(HyberError.named("invalid_parameter", detail))


CLIENT_CLOSED = 499  # the status metrics record for a request its client gave up on


def log_disconnect(scope: Any) -> None:
    """A client that aborts its upload is not an error of the mock: one INFO line."""
    log.info(
        "%s %s: the client closed the connection before sending its whole request",
        scope.get("method"),
        scope.get("path"),
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ClientDisconnect):
        log_disconnect(request.scope)
        return Response(status_code=CLIENT_CLOSED)  # nobody is there to read it
    if not isinstance(exc, DroppedConnection):  # an injected fault, not an error
        log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(HyberError.named("internal_error"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HyberError, _hyber)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)
