"""The provider endpoints without FastAPI's routing and dependency resolution.

The FastAPI routes of sending.py and reports.py stay the one declaration of each endpoint: they
describe it in /openapi.json and serve the odd spellings this table leaves to FastAPI (HEAD, a
trailing slash, a non-numeric client_id). `ProviderTable` calls the same endpoint functions,
solving their dependencies itself with the functions FastAPI would call: the account
(`authenticated_account`) and the JSON body (`json_body`).
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from fastapi.params import Depends
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from mock_hyber.api.deps import authenticated_account, json_body
from mock_hyber.api.errors import CLIENT_CLOSED, error_response, log_disconnect
from mock_hyber.errors import HyberError

_SENDS = frozenset(("", "/batch", "/batch/sync", "/broadcast", "/broadcast/sync"))
_DR = re.compile(r"/api/dr/(?:(external)/)?([^/]+)/(simple|advanced)")
_SOLVED = {authenticated_account: "account", json_body: "body"}

log = logging.getLogger("mock_hyber")


@dataclass(frozen=True, slots=True)
class Endpoint:
    template: str  # the route's path, as in the metrics label: "/{client_id}/batch"
    call: Callable[..., Awaitable[Response]]
    wants_body: bool


def route_of(method: str, rest: str) -> tuple[str, dict[str, str]] | None:
    """The route template and path parameters of a provider path's `rest` (what follows
    /{client_id}), or None when no provider route takes exactly this method and path."""
    if method == "POST":
        return ("/{client_id}" + rest, {}) if rest in _SENDS else None
    if method != "GET":
        return None
    if rest.startswith("/status/") and "/" not in rest[8:] and rest[8:]:
        return "/{client_id}/status/{job_id}", {"job_id": unquote(rest[8:])}
    match = _DR.fullmatch(rest)
    if match is None:
        return None
    external, ident, kind = match.groups()
    ident = unquote(ident)  # `rest` is the path as sent when it holds %-escapes
    if external:
        return f"/{{client_id}}/api/dr/external/{{extra_id}}/{kind}", {"extra_id": ident}
    return f"/{{client_id}}/api/dr/{{message_id}}/{kind}", {"message_id": ident}


def _endpoint(route: APIRoute) -> Endpoint:
    """The route's endpoint, checked to need nothing but what the table solves."""
    solved = set()
    for name, param in inspect.signature(route.endpoint).parameters.items():
        dependency = param.default.dependency if isinstance(param.default, Depends) else None
        if _SOLVED.get(dependency) == name:  # type: ignore[call-overload]
            solved.add(name)
        elif f"{{{name}}}" not in route.path:
            raise TypeError(f"{route.path}: the lean path cannot solve parameter {name!r}")
    if "account" not in solved:
        raise TypeError(f"{route.path}: a provider endpoint needs the authenticated account")
    return Endpoint(route.path, route.endpoint, "body" in solved)


class ProviderTable:
    """(method, route template) -> endpoint, from the provider routers' routes."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self.endpoints: dict[tuple[str, str], Endpoint] = {}
        for route in routes:
            assert isinstance(route, APIRoute)
            for method in route.methods:
                self.endpoints[(method, route.path)] = _endpoint(route)

    def find(self, method: str, rest: str) -> tuple[Endpoint, dict[str, str]] | None:
        found = route_of(method, rest)
        if found is None:
            return None
        endpoint = self.endpoints.get((method, found[0]))
        return (endpoint, found[1]) if endpoint is not None else None

    async def serve(
        self,
        endpoint: Endpoint,
        client_id: str,
        params: dict[str, str],
        scope: Any,
        receive: Any,
        send: Any,
    ) -> int:
        """Answer the request; its HTTP status."""
        request = Request(scope, receive)
        try:
            account = await authenticated_account(client_id, request)
            if endpoint.wants_body:
                params["body"] = await json_body(request)
            response = await endpoint.call(account=account, **params)
        except HyberError as error:
            response = error_response(error.in_catalogue(request.app.state.backend.catalogue))
        except ClientDisconnect:
            log_disconnect(scope)
            return CLIENT_CLOSED
        except Exception:  # a bug: answered in Hyber's shape, and logged (the plugin fails on it)
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            response = error_response(HyberError.named("internal_error"))
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": response.raw_headers,
            }
        )
        await send({"type": "http.response.body", "body": response.body})
        return response.status_code
