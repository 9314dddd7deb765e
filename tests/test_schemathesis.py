"""Schemathesis over the whole OpenAPI description, against a live server on 127.0.0.1.

Every operation gets generated requests, valid and invalid (a fixed number, derandomized):
none may get a 5xx, and every answer must be one the description lists, with the content type
and the body schema it gives. The server runs with an admin token, so the control plane's
declared 401s and security are part of what is checked.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from mock_hyber.app import create_app
from mock_hyber.config import Settings
from mock_hyber.testing.server import LiveServer
from tests.bodies import batch_body

MAX_EXAMPLES = 15  # per operation and phase: ~4,300 requests, about a minute in all
TOKEN = "fuzz-token"
BASIC = "Basic " + base64.b64encode(b"alice:secret").decode()
MAX_WAIT = 0.2  # real seconds a generated long-poll or callback settle may take
SETTINGS = Settings(
    accounts="1001:alice:secret,1002:bob:pw",
    seed=11,
    admin_token=TOKEN,
    clock_frozen=True,
    clock_start="2026-01-01T00:00:00Z",
    # Callbacks to generated hosts would look them up in DNS: only loopback is allowed.
    callback_allowed_hosts=["127.0.0.1"],
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    unsupported_method,
    allow_header_conformance,
]

# The sending bodies are described in their documented form, and the server tolerates what
# real clients send besides (numbers for strings, "300" for a ttl: docs/api.md, Validation): a
# "schema-violating" body it accepts there is by design.
LENIENT_CHECKS = [check for check in CHECKS if check is not negative_data_rejection]

# Provider operations run as account 1001 (other client_ids only get 401, which the
# description and test_bad_requests.py cover), with its credentials; the control plane with
# the token. Without them, schemathesis would generate the security headers too.
CONFIG = SchemathesisConfig.from_dict(
    {
        "parameters": {"path.client_id": "1001"},
        "auth": {
            "openapi": {
                "basicAuth": {"username": "alice", "password": "secret"},
                "adminToken": {"bearer": TOKEN},
            }
        },
    }
)
schema = schemathesis.openapi.from_dict(create_app(SETTINGS).openapi(), config=CONFIG)


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[LiveServer]:
    with LiveServer(SETTINGS) as live:
        # Something to find: a job, its messages and their reports.
        httpx.post(
            f"{live.url}/1001/batch/sync",
            json=batch_body(),
            headers={"Authorization": BASIC},
            timeout=30,
        ).raise_for_status()
        yield live


def _bounded(case: Any) -> None:
    """Generated waits are cut short: the checks are about answers, not about waiting."""
    if isinstance(case.query, dict) and "wait" in case.query:
        wait = case.query["wait"]
        if isinstance(wait, int | float) and not isinstance(wait, bool) and wait > MAX_WAIT:
            case.query["wait"] = MAX_WAIT
    if isinstance(case.body, dict) and case.body.get("wait_callbacks") is True:
        timeout = case.body.get("timeout")
        if isinstance(timeout, int | float) and not isinstance(timeout, bool):
            case.body["timeout"] = min(timeout, MAX_WAIT) if timeout > 0 else timeout


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_one_the_description_gives(case: Any, fuzzed: LiveServer) -> None:
    _bounded(case)
    try:
        response = case.call(base_url=fuzzed.url, timeout=30)
        lenient = case.method == "POST" and case.path.startswith("/{client_id}")
        case.validate_response(response, checks=LENIENT_CHECKS if lenient else CHECKS)
    finally:
        if case.operation.definition.raw.get("operationId") == "putFaults":
            # Faults would make later provider calls answer what they name (a 500, a drop).
            httpx.put(f"{fuzzed.url}/_mock/faults", json={}, headers={"X-Mock-Hyber-Token": TOKEN})


def test_the_fuzzed_description_is_the_served_one(fuzzed: LiveServer) -> None:
    served = httpx.get(f"{fuzzed.url}/openapi.json", timeout=10).json()
    assert served == create_app(SETTINGS).openapi()
    assert len(served["paths"]) >= 25
