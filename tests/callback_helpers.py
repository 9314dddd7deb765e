"""Shared pieces of the callback tests: a live mock per test with the settings it needs, a thin
client of its API, and request bodies built from the spec fixtures."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from mock_hyber.config import Settings
from mock_hyber.testing.server import LiveServer

SPEC = Path(__file__).resolve().parent.parent / "fixtures" / "spec"
ALICE = ("alice", "secret")
START = "2026-01-01T00:00:00Z"
START_MS = 1_767_225_600_000  # START in ms since the epoch
BASE_SETTINGS: dict[str, Any] = {
    "accounts": "1001:alice:secret",
    "seed": 3,
    "clock_frozen": True,
    "clock_start": START,
    "dr_delay": 0,  # DRs readable at once: these tests read them at any time
    "viber_templates": [{"id": 6349599, "text": "{{text}}"}],  # any text is a template's
}

# Retries at exactly 10 s, then 20 s, ... (no jitter).
EXACT_BACKOFF = {"callback_backoff": 10, "callback_backoff_factor": 2, "callback_jitter": 0}

# Magic numbers (engine/data/magic.yaml).
DELIVERED = "380000000001"  # first channel delivers after 1 s
FALLBACK = "380000000002"  # first channel expires at its ttl, the next delivers 2 s later
ALL_EXPIRE = "380000000003"
REJECTED = "380000000004"  # refused at acceptance (36024)
NOT_A_USER = "380000000005"  # first channel fails after 1 s, the next delivers 2 s later
SEEN = "380000000006"  # delivered after 1 s, seen 5 s later, 2 clicks 10 s after delivery
BLOCKED = "380000000007"  # blocked by the platform (36001, sent_via "hyber")
LATE = "380000000008"  # first channel late: 10 s after its ttl; the next delivers 2 s in

# Random recipients with neither seen nor clicks nor late deliveries: the final DR then stays
# the message's latest state, so it must equal GET .../simple at the end.
PLAIN_PROFILE = {
    "profile": {
        "viber": {
            "outcomes": {"delivered": 0.8, "failed": 0.1, "expired": 0.1},
            "seen": None,
            "clicks": None,
        },
        "sms": {"clicks": None},
    }
}


def fixture(name: str) -> dict[str, Any]:
    return json.loads((SPEC / name).read_text())


def batch_body(
    url: str | None,
    phones: Sequence[str | int],
    name: str = "batch_viber_sms.json",
    **changes: Any,
) -> dict[str, Any]:
    """A spec fixture batch with its callback_url and recipients replaced. start_time is
    dropped: these tests are about callbacks, not deferred sending."""
    body = copy.deepcopy(fixture(name))
    body.pop("start_time", None)
    body["callback_url"] = url
    if url is None:
        body.pop("callback_url")
    body["messages"] = [
        {
            "phone_number": int(phone) if str(phone).isdigit() else phone,
            "extra_id": f"EX-{index:03d}",
            "text": f"Text for recipient #{index} ({phone})",
        }
        for index, phone in enumerate(phones)
    ]
    body.update(changes)
    return body


class Mock:
    """A LiveServer and an httpx client of it."""

    def __init__(self, live: LiveServer, http: httpx.Client) -> None:
        self.live = live
        self.http = http

    @property
    def url(self) -> str:
        return self.live.url

    # -- provider API ---------------------------------------------------------------------

    def batch_sync(
        self, body: dict[str, Any], client_id: str = "1001", auth: tuple[str, str] = ALICE
    ) -> list[dict[str, Any]]:
        """POST /batch/sync; the per-recipient items (message_id, accepted, ...)."""
        response = self.http.post(f"/{client_id}/batch/sync", json=body, auth=auth)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["messages"]
        return items

    def send_batch(
        self, url: str | None, phones: Sequence[str | int], **changes: Any
    ) -> list[dict[str, Any]]:
        return self.batch_sync(batch_body(url, phones, **changes))

    def simple_dr(
        self, message_id: str, client_id: str = "1001", auth: tuple[str, str] = ALICE
    ) -> dict[str, Any]:
        response = self.http.get(f"/{client_id}/api/dr/{message_id}/simple", auth=auth)
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report

    # -- control API ----------------------------------------------------------------------

    def advance(self, seconds: float, wait: bool = True, timeout: float = 10.0) -> dict[str, Any]:
        response = self.http.post(
            "/_mock/clock/advance",
            json={"seconds": seconds, "wait_callbacks": wait, "timeout": timeout},
        )
        assert response.status_code == 200, response.text
        clocks: dict[str, Any] = response.json()
        return clocks

    def now_ms(self, client_id: str = "1001") -> int:
        clocks = self.http.get("/_mock/clock").json()["clocks"]
        return int(clocks[client_id]["now_ms"])

    def callbacks(self, **filters: Any) -> list[dict[str, Any]]:
        response = self.http.get("/_mock/callbacks", params=filters)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["callbacks"]
        return found

    def put_faults(self, faults: dict[str, Any], **params: Any) -> httpx.Response:
        return self.http.put("/_mock/faults", json=faults, params=params)

    def put_scenarios(self, scenarios: dict[str, Any]) -> None:
        response = self.http.put("/_mock/scenarios", content=json.dumps(scenarios))
        assert response.status_code == 200, response.text

    def inbound(self, **fields: Any) -> httpx.Response:
        return self.http.post("/_mock/inbound", json=fields)


@contextmanager
def mock_server(**overrides: Any) -> Iterator[Mock]:
    """A live mock of its own: account 1001 (alice/secret), seed 3, a frozen clock at START,
    plus `overrides` (callback settings...)."""
    settings = Settings(**{**BASE_SETTINGS, **overrides})
    with LiveServer(settings) as live, httpx.Client(base_url=live.url, timeout=20) as http:
        yield Mock(live, http)
