"""A real HTTP receiver for callbacks, on 127.0.0.1 in a background thread.

It records every request (method, path, headers, raw and parsed body, arrival time) and answers
with a programmable sequence of status codes (then `default_status`), optionally after a real
delay. `DownReceiver` is one that is down: its port refuses every connection.

    with Receiver(statuses=[500, 500, 200]) as receiver:
        ...  # point callback_url at receiver.url
        receiver.wait_for(1, timeout=5)
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class DownReceiver:
    """A receiver that is down: a port bound on 127.0.0.1 but not listening, so every
    connection to it is refused, and held for as long as needed, so no other server (another
    test process) can take it meanwhile. `close()` frees the port for a real Receiver."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/dr"

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> DownReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The mock POSTs many reports at once; a short listen backlog would drop connections
    # and the sender's TCP stack would retry them a second later.
    request_queue_size = 128


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    raw: bytes
    body: Any  # parsed JSON, or None when the body is not JSON
    at: float  # time.monotonic() of arrival
    status: int  # what the receiver answered

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class _Script:
    statuses: list[int] = field(default_factory=list)
    default_status: int = 200
    delay: float = 0.0

    def next_status(self) -> int:
        return self.statuses.pop(0) if self.statuses else self.default_status


class Receiver:
    def __init__(
        self,
        statuses: Iterable[int] = (),
        default_status: int = 200,
        delay: float = 0.0,
        port: int = 0,
    ) -> None:
        self._lock = threading.Condition()
        self._script = _Script(list(statuses), default_status, delay)
        self.requests: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            do_PUT = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output clean

        self._server = _Server(("127.0.0.1", port), Handler)
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return self.url_for("/dr")

    def url_for(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- programming ----------------------------------------------------------------------

    def respond(
        self,
        statuses: Iterable[int],
        default_status: int | None = None,
        delay: float | None = None,
    ) -> None:
        """Answer the next requests with `statuses`, then `default_status`, after `delay` s."""
        with self._lock:
            self._script.statuses = list(statuses)
            if default_status is not None:
                self._script.default_status = default_status
            if delay is not None:
                self._script.delay = delay

    # -- reading --------------------------------------------------------------------------

    @property
    def bodies(self) -> list[Any]:
        with self._lock:
            return [request.body for request in self.requests]

    def reports(self) -> list[dict[str, Any]]:
        """Every report object received, arrays (batched mode) flattened, in arrival order."""
        flat: list[dict[str, Any]] = []
        for body in self.bodies:
            flat.extend(body if isinstance(body, list) else [body])
        return flat

    def wait_for(
        self,
        count: int,
        timeout: float = 5.0,
        predicate: Callable[[list[Received]], bool] | None = None,
    ) -> list[Received]:
        """Block until `count` requests arrived (or `predicate` holds); fail after `timeout`."""
        test = predicate or (lambda requests: len(requests) >= count)
        deadline = time.monotonic() + timeout
        with self._lock:
            while not test(self.requests):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"receiver got {len(self.requests)} requests, wanted {count} "
                        f"within {timeout} s"
                    )
                self._lock.wait(left)
            return list(self.requests)

    def quiet(self, seconds: float = 0.2) -> list[Received]:
        """Wait a little real time to be sure nothing more arrives; the requests so far."""
        time.sleep(seconds)
        with self._lock:
            return list(self.requests)

    # -- serving --------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        arrived = time.monotonic()
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            status = self._script.next_status()
            delay = self._script.delay
            # Recorded before answering: once the sender has the answer, the record is there.
            self.requests.append(
                Received(
                    handler.command,
                    handler.path,
                    {name.lower(): value for name, value in handler.headers.items()},
                    raw,
                    body,
                    arrived,
                    status,
                )
            )
            self._lock.notify_all()
        if delay:
            time.sleep(delay)
        answer = b'{"ok": true}' if 200 <= status < 300 else b'{"error": "scripted"}'
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(answer)))
            handler.end_headers()
            handler.wfile.write(answer)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender gave up waiting (its timeout): nothing to answer
