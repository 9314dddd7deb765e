from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_hyber.config import Settings
from mock_hyber.testing.server import LiveServer

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "fixtures" / "spec"

ACCOUNTS = "1001:alice:secret,1002:bob:pw"
ALICE = ("alice", "secret")
# One registered Viber template that any text matches: text-only Viber messages are template
# messages (23043) in these tests; tests/test_fidelity.py shows the registry itself.
ANY_VIBER_TEXT = [{"id": 6349599, "text": "{{text}}"}]
BOB = ("bob", "pw")


@pytest.fixture(autouse=True, scope="session")
def _no_dns_leaves_the_machine() -> Iterator[None]:
    """Servers started in this process resolve only loopback names: the spec's example
    callback URLs (https://send-dr-here.com) must never cause a DNS query, let alone a
    request, outside the machine. Other names count as unresolvable, as a dead DNS would."""
    from mock_hyber.callbacks import destinations

    async def loopback_only(host: str) -> list[Any]:
        if host.lower() in destinations.LOOPBACK_NAMES:
            return [destinations.ipaddress.ip_address("127.0.0.1")]
        return []

    real = destinations.system_lookup
    destinations.system_lookup = loopback_only
    yield
    destinations.system_lookup = real


def spec_fixtures() -> list[dict[str, Any]]:
    return json.loads((SPEC / "index.json").read_text())


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((SPEC / name).read_text())


@pytest.fixture(scope="session")
def server() -> Iterator[LiveServer]:
    # A frozen clock: nothing happens to a message until a test advances time.
    # DRs are readable at once (dr_delay 0): these tests read them at any time; the delay
    # itself is shown by tests/test_fidelity.py on a server of its own.
    settings = Settings(
        accounts=ACCOUNTS,
        seed=42,
        clock_frozen=True,
        clock_start="2026-01-01T00:00:00Z",
        dr_delay=0,
        viber_templates=ANY_VIBER_TEXT,
    )
    with LiveServer(settings) as live:
        yield live


@pytest.fixture(scope="module")
def clients(server: LiveServer) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Alice's client and a control client of the shared server, kept for the module (a client
    is slow to make)."""
    with (
        httpx.Client(base_url=f"{server.url}/1001", auth=ALICE, timeout=30) as alice,
        httpx.Client(base_url=f"{server.url}/_mock", timeout=30) as control,
    ):
        yield alice, control


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        http.post("/_mock/reset").raise_for_status()
        yield http


@pytest.fixture
def alice(server: LiveServer) -> Iterator[httpx.Client]:
    """A client of account 1001 with its credentials; the account is reset first."""
    with httpx.Client(base_url=f"{server.url}/1001", auth=ALICE, timeout=30) as http:
        httpx.post(f"{server.url}/_mock/reset").raise_for_status()
        yield http
