"""API faults of the provider endpoints: which provider path and fault endpoint a request is.

The one ASGI layer (api/middleware.py) applies the faults before anything else runs.
"""

from __future__ import annotations

import logging
import re

_PATH = re.compile(
    r"^/(?P<client>\d+)(?P<rest>/batch(?:/sync)?|/broadcast(?:/sync)?|/status/[^/]+"
    r"|/api/dr/.+)?/?$"
)
_SENDS = {
    "": "single",
    "/batch": "batch",
    "/batch/sync": "batch_sync",
    "/broadcast": "broadcast",
    "/broadcast/sync": "broadcast_sync",
}


class DroppedConnection(Exception):
    """Raised after a response start, so the server closes the connection mid-answer."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


def provider_path(path: str) -> re.Match[str] | None:
    """The match of a provider path (groups `client` and `rest`), or None for other paths."""
    return _PATH.match(path)


def fault_endpoint(method: str, rest: str) -> str | None:
    """The fault endpoint name of a provider path's `rest` (after the client_id)."""
    if method == "POST":
        return _SENDS.get(rest)
    if rest.startswith("/status/"):
        return "status"
    if rest.startswith("/api/dr/"):
        return "dr"
    return None
