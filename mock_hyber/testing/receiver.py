"""A real HTTP server that receives mock_hyber's callbacks (delivery reports, user replies).

    with CallbackReceiver() as receiver:
        send(..., callback_url=receiver.url)
        hyber.advance(5)
        reports = receiver.wait_for(1, timeout=5)
        receiver.check()

It listens on 127.0.0.1 and a free port in a background thread, records every request (method,
path, headers, body, arrival time) before answering it, and answers with a programmable
sequence of statuses (then `default_status`, 200 unless told). Whatever goes wrong in its thread
(a request that is not a JSON POST, an exception in a `handler`) is recorded and re-raised by
`check()`, as pytest-httpserver does, so it cannot pass unnoticed. Every wait is bounded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from mock_hyber.testing.models import Clock, MockHyberTimeout

__all__ = ["CallbackReceiver", "CallbackReceiverError", "ReceivedRequest"]


class CallbackReceiverError(AssertionError):
    """Something went wrong in the receiver's thread; raised by `check()`."""


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    raw: bytes
    body: Any  # the parsed JSON, or None when the body is not JSON
    received_at: float  # time.time()
    monotonic: float  # time.monotonic(), to measure intervals
    status: int  # what the receiver answered

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def reports(self) -> list[Any]:
        """The body's objects: a JSON array (batched reports) counts as its elements."""
        if isinstance(self.body, list):
            return list(self.body)
        return [] if self.body is None else [self.body]


Handler = Callable[[ReceivedRequest], int | None]


class HasClock(Protocol):
    """What `watch` takes: a MockHyberClient (or anything with its `clock()`)."""

    def clock(self) -> Clock: ...


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the mock POSTs many reports at once


class CallbackReceiver:
    """Receives callbacks on `url` (or any path of `base_url`).

    `statuses`: the statuses of the first answers, in order, then `default_status`;
    `delay`: real seconds to wait before each answer (to exercise the sender's timeout);
    `handler`: called with each request before it is answered; it may return a status, and
    what it raises (an AssertionError, say) is recorded for `check()` and answered with 500.
    """

    def __init__(
        self,
        statuses: Iterable[int] = (),
        default_status: int = 200,
        delay: float = 0.0,
        handler: Handler | None = None,
        path: str = "/callbacks",
    ) -> None:
        self._cond = threading.Condition()
        self._statuses = list(statuses)
        self.default_status = default_status
        self.delay = delay
        self.handler = handler
        self.path = path if path.startswith("/") else f"/{path}"
        self._requests: list[ReceivedRequest] = []
        self._failures: list[BaseException] = []
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._watched: HasClock | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> CallbackReceiver:
        if self._server is not None:
            return self
        self._server = _HTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="mock-hyber-callback-receiver",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> CallbackReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the receiver is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The URL to give as `callback_url` (or as an account's `inbound_url`)."""
        return self.base_url + self.path

    def url_for(self, path: str) -> str:
        """A URL on this receiver with another path (to tell two kinds of callback apart)."""
        return self.base_url + (path if path.startswith("/") else f"/{path}")

    # -- programming the answers -----------------------------------------------------------

    def respond_with(self, *statuses: int, default: int | None = None) -> None:
        """Answer the next requests with `statuses`, in order, then `default` (if given)."""
        with self._cond:
            self._statuses = list(statuses)
            if default is not None:
                self.default_status = default

    # -- what was received -----------------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._cond:
            return list(self._requests)

    @property
    def reports(self) -> list[Any]:
        """Every JSON object received, in arrival order; batched arrays are flattened."""
        with self._cond:
            return [report for request in self._requests for report in request.reports]

    def watch(self, account: HasClock | None) -> None:
        """Name `account`'s clock in `wait_for`'s timeouts (frozen? when is the next report
        due, how far to advance). The pytest plugin watches the test's `mock_hyber`."""
        self._watched = account

    def wait_for(self, count: int = 1, timeout: float = 5.0, requests: bool = False) -> list[Any]:
        """Wait until at least `count` reports (or requests) arrived; return them all. Raises
        `MockHyberTimeout` (a TimeoutError) saying what did arrive when `timeout` runs out,
        and, for a watched account, what its clock is doing."""
        deadline = time.monotonic() + timeout

        def got() -> list[Any]:
            if requests:
                return list(self._requests)
            return [report for request in self._requests for report in request.reports]

        with self._cond:
            while len(got()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    what = "requests" if requests else "reports"
                    raise MockHyberTimeout(
                        f"the callback receiver got {len(got())} of {count} {what} within "
                        f"{timeout:g} s: {got()!r}{self._clock_hint()}"
                    )
                self._cond.wait(left)
            return got()

    def _clock_hint(self) -> str:
        if self._watched is None:
            return ""
        try:
            clock = self._watched.clock()
        except Exception as exc:  # a hint must never hide the timeout itself
            return f"\n(the account's clock could not be read: {exc!r})"
        return "\n" + explain_clock(clock)

    def clear(self) -> None:
        """Forget what was received and every failure (the answer script stays)."""
        with self._cond:
            self._requests.clear()
            self._failures.clear()

    @property
    def failures(self) -> list[BaseException]:
        with self._cond:
            return list(self._failures)

    def check(self) -> None:
        """Re-raise the first failure of the receiver's thread (all are listed)."""
        failures = self.failures
        if failures:
            listed = "; ".join(f"{type(f).__name__}: {f}" for f in failures)
            raise CallbackReceiverError(
                f"the callback receiver had {len(failures)} failure(s): {listed}"
            ) from failures[0]

    # -- the server side -------------------------------------------------------------------

    def _next_status(self) -> int:
        with self._cond:
            return self._statuses.pop(0) if self._statuses else self.default_status

    def _fail(self, failure: BaseException) -> None:
        with self._cond:
            self._failures.append(failure)

    def _record(self, request: ReceivedRequest) -> None:
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()

    def _handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> int:
        status = self._next_status()
        body: Any = None
        if method != "POST":
            self._fail(AssertionError(f"unexpected {method} {path}: callbacks are POSTs"))
            status = 405
        elif raw:
            try:
                body = json.loads(raw)
            except ValueError as exc:
                self._fail(AssertionError(f"POST {path}: the body is not JSON ({exc}): {raw!r}"))
        request = ReceivedRequest(
            method, path, headers, raw, body, time.time(), time.monotonic(), status
        )
        if self.handler is not None:
            try:
                chosen = self.handler(request)
            except BaseException as exc:  # recorded for check(), answered as a server error
                self._fail(exc)
                chosen = 500
            if chosen is not None:
                request = ReceivedRequest(
                    method, path, headers, raw, body, request.received_at, request.monotonic, chosen
                )
        # Recorded before the answer: once the sender has its answer, the request is visible.
        self._record(request)
        if self.delay:
            time.sleep(self.delay)
        return request.status

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

            def _serve(self) -> None:
                try:
                    raw = self._read_body()
                    headers = {name.lower(): value for name, value in self.headers.items()}
                    status = receiver._handle(self.command, self.path, headers, raw)
                except Exception as exc:
                    receiver._fail(exc)
                    status = 500
                payload = b'{"ok": true}' if 200 <= status < 300 else b'{"ok": false}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            do_POST = do_PUT = do_GET = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: what arrived is in receiver.requests

        return Handler


def explain_clock(clock: Clock) -> str:
    """Why reports may not have come yet, from the account's clock: frozen or running, and
    when the next scheduled report is due."""
    account = f"account {clock.client_id}'s clock"
    due = clock.next_callback_ms
    if clock.frozen:
        head = f"{account} is frozen at {clock.now}"
        if due is None:
            return f"{head}; no report is scheduled (was callback_url this receiver's url?)"
        ahead = max(due - clock.now_ms, 0) / 1000
        return (
            f"{head}; the next report is due at {_iso(due)}: advance by {ahead:g} s "
            f"(mock_hyber.advance({ahead:g}))"
        )
    head = f"{account} runs at x{clock.speed:g} (now {clock.now})"
    if due is None:
        return f"{head}; no report is scheduled (was callback_url this receiver's url?)"
    ahead = max(due - clock.now_ms, 0) / 1000
    return f"{head}; the next report is due at {_iso(due)}, {ahead:g} virtual s from now"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
