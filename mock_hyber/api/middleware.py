"""Pure ASGI middleware: request metrics, and the admin token guarding the control plane."""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from mock_hyber.errors import HyberError
from mock_hyber.metrics import Metrics

OPEN_CONTROL_PATHS = ("/_mock/health",)  # the container healthcheck needs no token


async def send_error(send: Any, error: HyberError, *headers: tuple[bytes, bytes]) -> None:
    """Answer with the Hyber error body straight from ASGI middleware (before any route)."""
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


class RequestMetrics:
    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

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
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(f"{scope['method']} {endpoint}", str(status)).inc()


class AdminToken:
    """With `admin_token` set, /_mock (but its health check) and /metrics need the token as
    `Authorization: Bearer <token>` or `X-Mock-Hyber-Token: <token>`."""

    def __init__(self, app: Any, token: str | None) -> None:
        self.app = app
        self.token = token.encode() if token else None

    def _guarded(self, path: str) -> bool:
        if path in OPEN_CONTROL_PATHS:
            return False
        return path.startswith("/_mock") or path == "/metrics"

    def _presented(self, headers: list[tuple[bytes, bytes]]) -> bytes | None:
        for name, value in headers:
            if name == b"x-mock-hyber-token":
                return value
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                return value[7:].strip()
        return None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.token is not None and scope["type"] == "http" and self._guarded(scope["path"]):
            presented = self._presented(scope["headers"])
            if presented is None or not secrets.compare_digest(presented, self.token):
                error = HyberError.named("unauthorized", "this control path needs the admin token")
                await send_error(send, error, (b"www-authenticate", b'Bearer realm="mock-hyber"'))
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """413 with the Hyber error body for a request body above `limit` bytes: declared by its
    Content-Length (answered before reading), or counted as it streams in (chunked)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                error = HyberError.named("body_too_large")
                await send_error(send, error, (b"connection", b"close"))
                return
        received = 0

        async def limited() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HyberError.named("body_too_large")
            return message

        await self.app(scope, limited, send)
