"""The OpenAPI description tells the truth, and /docs works offline.

What the description promises is checked against the server by tests/test_schemathesis.py;
these tests pin its shape: declared auth, the Hyber error body in place of FastAPI's 422,
schemas for the control plane, short operation ids, and a Swagger UI from packaged files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_hyber.config import Settings
from mock_hyber.testing.server import LiveServer

JSON = "application/json"
ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
TOKEN = "s3cret-token"

OPERATION_IDS = {
    ("get", "/_mock/health"): "getHealth",
    ("get", "/_mock/magic"): "listMagicNumbers",
    ("get", "/_mock/codes"): "getCodes",
    ("post", "/_mock/reset"): "reset",
    ("get", "/_mock/clock"): "getClock",
    ("post", "/_mock/clock"): "setClock",
    ("post", "/_mock/clock/advance"): "advanceClock",
    ("post", "/_mock/clock/freeze"): "freezeClock",
    ("post", "/_mock/clock/resume"): "resumeClock",
    ("get", "/_mock/scenarios"): "getScenarios",
    ("put", "/_mock/scenarios"): "putScenarios",
    ("get", "/_mock/jobs"): "listJobs",
    ("get", "/_mock/jobs/{job_id}"): "getJob",
    ("get", "/_mock/messages"): "listMessages",
    ("get", "/_mock/messages/{message_id}"): "getMessage",
    ("post", "/_mock/messages/{message_id}/transition"): "transitionMessage",
    ("get", "/_mock/callbacks"): "listCallbacks",
    ("post", "/_mock/callbacks/{delivery_id}/redeliver"): "redeliverCallback",
    ("get", "/_mock/faults"): "getFaults",
    ("put", "/_mock/faults"): "putFaults",
    ("post", "/_mock/inbound"): "simulateInbound",
    ("get", "/_mock/callbacks/destinations"): "listCallbackDestinations",
    ("get", "/_mock/settings"): "getSettings",
    ("patch", "/_mock/settings"): "patchSettings",
    ("get", "/_mock/viber-templates"): "getViberTemplates",
    ("put", "/_mock/viber-templates"): "putViberTemplates",
    ("get", "/_mock/whatsapp-sessions"): "getWhatsappSessions",
    ("post", "/_mock/whatsapp-sessions"): "openWhatsappSession",
    ("post", "/{client_id}"): "sendSingle",
    ("post", "/{client_id}/batch"): "sendBatch",
    ("post", "/{client_id}/batch/sync"): "sendBatchSync",
    ("post", "/{client_id}/broadcast"): "sendBroadcast",
    ("post", "/{client_id}/broadcast/sync"): "sendBroadcastSync",
    ("get", "/{client_id}/status/{job_id}"): "getStatus",
    ("get", "/{client_id}/api/dr/{message_id}/simple"): "getSimpleReport",
    ("get", "/{client_id}/api/dr/{message_id}/advanced"): "getAdvancedReport",
    ("get", "/{client_id}/api/dr/external/{extra_id}/simple"): "getSimpleReportByExtraId",
    ("get", "/{client_id}/api/dr/external/{extra_id}/advanced"): "getAdvancedReportByExtraId",
    ("get", "/metrics"): "getMetrics",
}


@pytest.fixture(scope="module")
def guarded() -> Iterator[LiveServer]:
    with LiveServer(Settings(accounts="1001:alice:secret", admin_token=TOKEN)) as live:
        yield live


def spec_of(server: LiveServer) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/openapi.json", timeout=10)
    assert response.status_code == 200
    return response.json()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def test_operation_ids_are_short_and_stable(server: LiveServer) -> None:
    spec = spec_of(server)
    found = {(method, path): op["operationId"] for method, path, op in operations(spec)}
    assert {key: found.get(key) for key in OPERATION_IDS} == OPERATION_IDS
    assert all(re.fullmatch(r"[a-z][A-Za-z]{2,40}", name) for name in found.values())
    assert len(set(found.values())) == len(found)


def test_no_phantom_422_and_every_error_has_the_hyber_body(server: LiveServer) -> None:
    spec = spec_of(server)
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "ValidationError" not in spec["components"]["schemas"]
    assert spec["components"]["schemas"]["ErrorBody"]["required"] == ["error_code", "error_text"]
    for method, path, operation in operations(spec):
        assert "422" not in operation["responses"], (method, path)
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                assert response["content"][JSON]["schema"] == ERROR_REF, (method, path, status)


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("post", "/{client_id}/batch", {"400", "401", "404", "408", "413", "415"}),
        ("get", "/{client_id}/status/{job_id}", {"401", "404"}),
        ("post", "/_mock/clock/advance", {"400", "404", "408", "413"}),
        ("get", "/_mock/messages", {"400", "404", "429"}),
        ("post", "/_mock/messages/{message_id}/transition", {"400", "404", "409"}),
        ("put", "/_mock/faults", {"400", "404"}),
    ],
)
def test_operations_list_the_errors_they_answer(
    server: LiveServer, method: str, path: str, statuses: set[str]
) -> None:
    responses = spec_of(server)["paths"][path][method]["responses"]
    assert statuses <= set(responses)


def test_basic_auth_is_declared_on_the_provider_operations(server: LiveServer) -> None:
    spec = spec_of(server)
    schemes = spec["components"]["securitySchemes"]
    assert schemes == {"basicAuth": {**schemes["basicAuth"], "type": "http", "scheme": "basic"}}
    for method, path, operation in operations(spec):
        if path.startswith("/{client_id}"):
            assert operation["security"] == [{"basicAuth": []}], (method, path)
            client_id = next(p for p in operation["parameters"] if p["name"] == "client_id")
            assert client_id["schema"]["pattern"] == "^[0-9]+$"
        else:  # no token set: the control plane is open
            assert "security" not in operation, (method, path)
            assert "401" not in operation["responses"], (method, path)


def test_the_admin_token_is_declared_when_set(guarded: LiveServer) -> None:
    spec = spec_of(guarded)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["adminToken"]["scheme"] == "bearer"
    assert schemes["adminTokenHeader"] == {**schemes["adminTokenHeader"], "in": "header"}
    assert schemes["adminTokenHeader"]["name"] == "X-Mock-Hyber-Token"
    token = [{"adminToken": []}, {"adminTokenHeader": []}]
    for method, path, operation in operations(spec):
        if (path.startswith("/_mock") and path != "/_mock/health") or path == "/metrics":
            assert operation["security"] == token, (method, path)
            assert "401" in operation["responses"], (method, path)
    assert "security" not in spec["paths"]["/_mock/health"]["get"]
    # ...and the server does answer 401 there, as described
    response = httpx.get(f"{guarded.url}/_mock/clock", timeout=10)
    assert response.status_code == 401 and set(response.json()) == {"error_code", "error_text"}


def test_every_control_operation_has_request_and_response_schemas(server: LiveServer) -> None:
    spec = spec_of(server)
    for method, path, operation in operations(spec):
        if not path.startswith("/_mock"):
            continue
        ok = operation["responses"].get("200") or operation["responses"]["202"]
        assert ok["content"][JSON]["schema"].get("$ref"), (method, path)
        if method in ("post", "put") and path not in ("/_mock/reset",):
            if path.endswith("/redeliver"):
                continue
            body = operation["requestBody"]["content"][JSON]["schema"]
            assert body["$ref"].split("/")[-1] in spec["components"]["schemas"], (method, path)
    advance = spec["paths"]["/_mock/clock/advance"]["post"]["requestBody"]
    assert advance["required"] is True
    assert spec["components"]["schemas"]["ClockAdvance"]["required"] == ["seconds"]
    inbound = spec["components"]["schemas"]["InboundRequest"]
    assert inbound["anyOf"] == [{"required": ["message_id"]}, {"required": ["phone"]}]
    scenarios = spec["paths"]["/_mock/scenarios"]["put"]["requestBody"]["content"]
    assert set(scenarios) == {JSON}  # YAML is read too, whatever the Content-Type


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/_mock/clock", "GET, POST"),
        ("OPTIONS", "/_mock/scenarios", "GET, PUT"),
        ("OPTIONS", "/_mock/faults", "GET, PUT"),
        ("GET", "/_mock/clock/advance", "POST"),
        ("GET", "/1001/batch", "POST"),
        # POST to a known path that /{client_id} would take: 405, not "no such path"
        ("POST", "/metrics", "GET"),
        ("POST", "/_mock/scenarios", "GET, PUT"),
        ("POST", "/_mock/jobs/abc", "GET"),
    ],
)
def test_a_405_allows_every_method_the_description_lists(
    server: LiveServer, method: str, path: str, allow: str
) -> None:
    response = httpx.request(method, f"{server.url}{path}", timeout=10)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert set(response.json()) == {"error_code", "error_text"}
    template = path.replace("1001", "{client_id}").replace("/abc", "/{job_id}")
    assert allow.lower().split(", ") == sorted(spec_of(server)["paths"][template])


def test_an_unknown_path_is_still_a_404(server: LiveServer) -> None:
    response = httpx.post(f"{server.url}/nowhere", timeout=10)
    assert response.status_code == 404 and response.json()["error_code"] == 10404


def test_every_example_body_is_accepted() -> None:
    # An inbound reply needs an inbound_url: a closed port on loopback (its delivery fails).
    settings = Settings(accounts="1001:alice:secret", inbound_url="http://127.0.0.1:9/inbound")
    with LiveServer(settings) as server:
        _try_every_example(server)


def _try_every_example(server: LiveServer) -> None:
    spec = spec_of(server)
    tried = 0
    for method, path, operation in operations(spec):
        media = operation.get("requestBody", {}).get("content", {}).get(JSON, {})
        if "example" not in media or "{" in path.replace("{client_id}", ""):
            continue
        response = httpx.request(
            method,
            server.url + path.replace("{client_id}", "1001"),
            json=media["example"],
            auth=("alice", "secret"),
            timeout=30,
        )
        assert response.status_code < 300, (method, path, response.text)
        tried += 1
        if path == "/_mock/faults":  # the example fault would answer the next batch
            httpx.put(f"{server.url}/_mock/faults", json={}, timeout=30).raise_for_status()
    assert tried >= 9


# -- /docs, offline --------------------------------------------------------------------------


def test_docs_load_no_external_url_and_their_assets_answer(server: LiveServer) -> None:
    page = httpx.get(f"{server.url}/docs", timeout=10)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]", page.text, re.IGNORECASE), page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) == 3  # the script, the stylesheet, the icon
    for asset in assets:
        assert asset.startswith("/docs/assets/"), asset
        response = httpx.get(f"{server.url}{asset}", timeout=10)
        assert response.status_code == 200, asset
        assert len(response.content) > 500, asset
    assert "url: '/openapi.json'" in page.text
    assert '"validatorUrl": null' in page.text  # no online validator badge either


def test_the_bundled_swagger_ui_reads_openapi_3_1(server: LiveServer) -> None:
    # Swagger UI before 5 renders no OpenAPI 3.1 description: the bundle must be 5 or later.
    script = httpx.get(f"{server.url}/docs/assets/swagger-ui-bundle.js", timeout=10).text
    assert spec_of(server)["openapi"].startswith("3.1")
    assert "OpenAPI 3.1" in script or "openapi31" in script.lower()


def test_redoc_is_not_served_from_a_cdn(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/redoc", timeout=10)
    assert response.status_code == 405  # only POST /{client_id} has that shape
    assert set(response.json()) == {"error_code", "error_text"}
