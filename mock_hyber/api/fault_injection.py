"""ASGI wrapper that applies API faults to provider endpoints before anything else runs."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from mock_hyber.api.middleware import send_error
from mock_hyber.errors import HyberError
from mock_hyber.state import Backend

_PATH = re.compile(
    r"^/(?P<client>\d+)(?P<rest>/batch(?:/sync)?|/broadcast(?:/sync)?|/status/[^/]+"
    r"|/api/dr/.+)?/?$"
)


class DroppedConnection(Exception):
    """Raised after a response start, so the server closes the connection mid-answer."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


def endpoint_of(method: str, path: str) -> tuple[str, str] | None:
    """(client_id, endpoint name) of a provider path, or None for other paths."""
    match = _PATH.match(path)
    if match is None:
        return None
    rest = match.group("rest") or ""
    if method == "POST":
        names = {
            "": "single",
            "/batch": "batch",
            "/batch/sync": "batch_sync",
            "/broadcast": "broadcast",
            "/broadcast/sync": "broadcast_sync",
        }
        name = names.get(rest)
    else:
        name = (
            "status"
            if rest.startswith("/status/")
            else "dr"
            if rest.startswith("/api/dr/")
            else None
        )
    return (match.group("client"), name) if name else None


class FaultInjection:
    def __init__(self, app: Any, backend: Backend) -> None:
        self.app = app
        self.backend = backend

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            target = endpoint_of(scope["method"], scope["path"])
            account = self.backend.account(target[0]) if target else None
            if account is not None and account.api_faults.faults:
                hit = account.api_faults.hit(target[1])  # type: ignore[index]
                if hit is not None:
                    if hit.latency:
                        await asyncio.sleep(hit.latency)
                    if hit.drop:
                        # Read the request first: closing with unread data makes a TCP reset
                        # instead of the cut answer this fault promises.
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
                        return
        await self.app(scope, receive, send)
