"""A tiny app that notifies its users through Hyber: Viber first, SMS when Viber does not
deliver. It is the example of testing an app against mock_hyber (see tests/).

- `Notifier` sends batches and broadcasts over httpx with Basic auth, retrying server errors.
- `DeliveryLog.handle_report` records each user's delivery state from the DR callbacks.
- `CallbackServer` is the app's own HTTP endpoint that Hyber POSTs those reports to.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


@dataclass(frozen=True)
class User:
    id: str
    phone: str
    name: str


class NotifierError(Exception):
    pass


class Notifier:
    def __init__(
        self,
        base_url: str,
        client_id: str,
        login: str,
        password: str,
        callback_url: str | None = None,
        alpha_name: str = "Shop",
        retries: int = 2,
        retry_wait: float = 0.05,
        timeout: float = 10.0,
    ) -> None:
        self.callback_url = callback_url
        self.alpha_name = alpha_name
        self.retries = retries
        self.retry_wait = retry_wait
        self.http = httpx.Client(
            base_url=f"{base_url.rstrip('/')}/{client_id}",
            auth=(login, password),
            timeout=timeout,
        )

    def close(self) -> None:
        self.http.close()

    def _channels(self, text: str) -> dict[str, Any]:
        return {
            "channels": ["viber", "sms"],
            "channel_options": {
                "viber": {"text": text, "ttl": 60},
                "sms": {"text": text, "alpha_name": self.alpha_name, "ttl": 300},
            },
        }

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        if self.callback_url:
            body["callback_url"] = self.callback_url
        for attempt in range(self.retries + 1):
            try:
                response = self.http.post(path, json=body)
            except httpx.TransportError as exc:
                error: str = repr(exc)
            else:
                if response.status_code < 500:
                    if response.is_error:
                        raise NotifierError(f"Hyber refused {path}: {response.text}")
                    return response.json()
                error = f"HTTP {response.status_code}: {response.text}"
            if attempt < self.retries:
                time.sleep(self.retry_wait * 2**attempt)
        raise NotifierError(f"Hyber failed {path} after {self.retries + 1} tries: {error}")

    def send_batch(self, users: Iterable[User], text: str, tag: str | None = None) -> str:
        """The same text to every user; returns the job_id."""
        body = {
            "messages": [{"phone_number": u.phone, "extra_id": u.id} for u in users],
            **self._channels(text),
        }
        if tag:
            body["tag"] = tag
        return str(self._post("/batch", body)["job_id"])

    def send_batch_sync(self, users: Iterable[User], text: str) -> dict[str, bool]:
        """Send and learn at once which users were accepted."""
        chosen = list(users)
        body = {
            "messages": [{"phone_number": u.phone, "extra_id": u.id} for u in chosen],
            **self._channels(text),
        }
        answer = self._post("/batch/sync", body)["messages"]
        return {user.id: bool(item["accepted"]) for user, item in zip(chosen, answer, strict=True)}

    def send_broadcast(self, template: str, users: Iterable[User]) -> str:
        """A personalised text: `%name%` and `%user_id%` are each user's own."""
        body = {
            "recipients": [
                {"phone_number": u.phone, "extra_id": u.id, "name": u.name, "user_id": u.id}
                for u in users
            ],
            **self._channels(template),
        }
        return str(self._post("/broadcast", body)["job_id"])

    def job_states(self, job_id: str) -> dict[str, str]:
        """Each user's state from the campaign status report."""
        response = self.http.get(f"/status/{job_id}")
        if response.is_error:
            raise NotifierError(f"status of {job_id}: {response.text}")
        return {item["extra_id"]: state_of(item) for item in response.json()["messages"]}


def state_of(report: dict[str, Any]) -> str:
    """pending, delivered, seen or failed, from a Hyber status or DR report."""
    if "error_code" in report:
        return "failed"
    status = report.get("status")
    if status == 2:
        return "seen" if report.get("substatus") == 24 else "delivered"
    if status == 3:
        return "failed"
    return "pending"


class DeliveryLog:
    """What the DR callbacks said about each user (by extra_id, the user id)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.states: dict[str, str] = {}
        self.channels: dict[str, str] = {}
        self.reports: list[dict[str, Any]] = []

    def handle_report(self, payload: Any) -> None:
        """One report (a JSON object) or a batch of them (a JSON array)."""
        reports = payload if isinstance(payload, list) else [payload]
        with self._lock:
            for report in reports:
                self.reports.append(report)
                user_id = report.get("extra_id")
                if user_id is None:
                    continue
                self.states[user_id] = state_of(report)
                if report.get("sent_via"):
                    self.channels[user_id] = report["sent_via"]

    def state(self, user_id: str) -> str | None:
        with self._lock:
            return self.states.get(user_id)


class CallbackServer:
    """The app's DR endpoint: `POST /hyber/dr` feeds a DeliveryLog."""

    def __init__(self, log: DeliveryLog, host: str = "127.0.0.1", port: int = 0) -> None:
        self.log = log

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    log.handle_report(json.loads(self.rfile.read(length)))
                    status = 200
                except ValueError:
                    status = 400
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hyber/dr"

    def start(self) -> CallbackServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
