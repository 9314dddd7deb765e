"""The one ASGI layer in front of FastAPI.

It classifies each request's path once and applies what applies to it: the admin token on
/_mock (but its health check) and /metrics, the body size limit, API faults on provider
endpoints, and the request metrics. Provider endpoints are then served through the
`ProviderTable` (no FastAPI routing or dependency resolution); everything else goes on to
FastAPI: the control plane, /metrics, the docs, and paths the table does not take.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import orjson

from mock_hyber.api.dispatch import ProviderTable
from mock_hyber.api.fault_injection import DroppedConnection, fault_endpoint, provider_path
from mock_hyber.api_faults import FaultHit
from mock_hyber.errors import HyberError
from mock_hyber.metrics import Metrics
from mock_hyber.state import Backend

OPEN_CONTROL_PATHS = ("/_mock/health",)  # the container healthcheck needs no token
TEMPLATE = "mock_hyber.route"  # scope key: the template of the provider route serving it


async def send_error(send: Any, error: HyberError, *headers: tuple[bytes, bytes]) -> None:
    """Answer with the Hyber error body straight from ASGI (before any route)."""
    body = orjson.dumps(error.body())
    await send(
        {
            "type": "http.response.start",
            "status": error.http_status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def apply_fault(hit: FaultHit, receive: Any, send: Any) -> bool:
    """Latency, then a drop or an error answer; True when the fault answered the request."""
    if hit.latency:
        await asyncio.sleep(hit.latency)
    if hit.drop:
        # Read the request first: closing with unread data makes a TCP reset instead of the
        # cut answer this fault promises.
        while (await receive()).get("more_body"):
            pass
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"1000")],
            }
        )
        raise DroppedConnection()
    if hit.status is not None and hit.body is not None:
        code, text = hit.body["error_code"], hit.body["error_text"]
        await send_error(send, HyberError(int(code), str(text), hit.status))
        return True
    return False


class Gateway:
    """With `token` set, /_mock (but its health check) and /metrics need it as
    `Authorization: Bearer <token>` or `X-Mock-Hyber-Token: <token>`. A request body above
    `limit` bytes gets 413: declared by its Content-Length (answered before reading), or
    counted as it streams in (chunked). Metrics label a request with its route template, or
    "unmatched" when no route answered it (token, Content-Length limit, API fault)."""

    def __init__(
        self,
        app: Any,
        *,
        backend: Backend,
        metrics: Metrics,
        provider: ProviderTable,
        token: str | None,
        limit: int,
        body_timeout: float = 10.0,
    ) -> None:
        self.app = app
        self.backend = backend
        self.metrics = metrics
        self.provider = provider
        self.token = token.encode() if token else None
        self.limit = limit
        self.body_timeout = body_timeout

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def recording_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._handle(scope, receive, recording_send)
        finally:
            # The template of the route that took the request: the provider table's, or the
            # one FastAPI's router matched.
            route = scope.get(TEMPLATE) or getattr(scope.get("route"), "path", None)
            endpoint = f"{scope['method']} {route or 'unmatched'}"
            self.metrics.requests.labels(endpoint, str(status)).inc()

    def _named(self, name: str, detail: str | None = None) -> HyberError:
        """A named error in the backend's own catalogue."""
        return HyberError.named(name, detail).in_catalogue(self.backend.catalogue)

    async def _handle(self, scope: Any, receive: Any, send: Any) -> None:
        method, path = scope["method"], scope["path"]
        if self.token is not None and guarded(path) and not self._admitted(scope["headers"]):
            error = self._named("unauthorized", "this control path needs the admin token")
            await send_error(send, error, (b"www-authenticate", b'Bearer realm="mock-hyber"'))
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                error = self._named("body_too_large")
                await send_error(send, error, (b"connection", b"close"))
                return
        limited = self._limited(receive)
        raw = scope.get("raw_path")
        if raw and b"%" in raw:
            # Route on the path as sent: an id holding an encoded "/" (%2F) stays one segment;
            # the table decodes each id.
            path = raw.decode("latin-1")
        match = provider_path(path)
        if match is not None:
            client_id, rest = match.group("client"), match.group("rest") or ""
            fault = fault_endpoint(method, rest)
            account = self.backend.account(client_id) if fault else None
            if account is not None and account.api_faults.faults:
                hit = account.api_faults.hit(fault)  # type: ignore[arg-type]
                try:
                    if hit is not None and await apply_fault(hit, limited, send):
                        return
                except HyberError as error:  # a drop fault reading a body over the limit
                    await send_error(send, error.in_catalogue(self.backend.catalogue))
                    return
            found = self.provider.find(method, rest) if path == f"/{client_id}{rest}" else None
            if found is not None:
                endpoint, params = found
                scope[TEMPLATE] = endpoint.template
                await self.provider.serve(endpoint, client_id, params, scope, limited, send)
                return
        await self.app(scope, limited, send)

    def _admitted(self, headers: list[tuple[bytes, bytes]]) -> bool:
        presented = None
        for name, value in headers:
            if name == b"x-mock-hyber-token":
                presented = value
                break
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                presented = value[7:].strip()
                break
        return presented is not None and secrets.compare_digest(presented, self.token or b"")

    def _limited(self, receive: Any) -> Any:
        received = 0
        limit = self.limit
        timeout = self.body_timeout

        async def limited() -> Any:
            nonlocal received
            try:  # a client that stops sending its body does not hold the request open
                message = await asyncio.wait_for(receive(), timeout)
            except TimeoutError:
                raise HyberError.named(
                    "request_timeout", f"no part of the body came for {timeout:g} s"
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HyberError.named("body_too_large")
            return message

        return limited


def guarded(path: str) -> bool:
    """Whether the admin token, when set, guards this path (the OpenAPI description asks too)."""
    if path in OPEN_CONTROL_PATHS:
        return False
    return path.startswith("/_mock") or path == "/metrics"
