"""The HTTP layer: uvicorn on uvloop and httptools, one ASGI layer in front of FastAPI, and the
provider endpoints served from its table (`ProviderTable`) rather than by FastAPI's router.

The lean path must answer exactly what FastAPI answers: two servers with the same seed, one
with the table and one with an empty table (so FastAPI serves everything), get the same
requests and must give the same answers, byte for byte.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mock_hyber.api.dispatch import ProviderTable
from mock_hyber.api.middleware import Gateway
from mock_hyber.config import Settings
from mock_hyber.testing.server import LiveServer
from tests.bodies import basic, batch_body, broadcast_body, single_body
from tests.server_process import ServerProcess

ALICE = basic("alice", "secret")
BOB = basic("bob", "pw")
JSON = "application/json"


def settings() -> Settings:
    return Settings(
        accounts="1001:alice:secret,1002:bob:pw",
        seed=11,
        clock_frozen=True,
        clock_start="2026-01-01T00:00:00Z",
        max_body_bytes=4096,
        dr_delay=0,
    )


class Spy:
    """Wraps the app behind the Gateway: the (method, path) of each request FastAPI gets."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen.append((scope["method"], scope["path"]))
        await self.app(scope, receive, send)


def gateway_of(server: LiveServer) -> Gateway:
    gateway = server.app.gateway
    assert isinstance(gateway, Gateway)
    return gateway


@pytest.fixture(scope="module")
def lean() -> Iterator[tuple[LiveServer, Spy]]:
    with LiveServer(settings()) as server:
        gateway = gateway_of(server)
        spy = Spy(gateway.app)
        gateway.app = spy
        yield server, spy


@pytest.fixture(scope="module")
def routed() -> Iterator[LiveServer]:
    """The same server with an empty provider table: FastAPI serves every request."""
    server = LiveServer(settings())
    server.app.gateway.provider = ProviderTable([])
    with server:
        yield server


LEAN, FASTAPI = True, False  # who serves a request


def requests(answers: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, str], bytes, bool]]:
    """(method, path, headers, body, lean) of each request; later paths use earlier answers."""
    auth = {"Authorization": ALICE}
    post = {**auth, "Content-Type": JSON}

    def body(data: dict[str, Any]) -> bytes:
        return httpx.Request("POST", "/", json=data).content

    yield "POST", "/1001", post, body(single_body(extra_id="s-1")), LEAN
    yield "POST", "/1001/batch", post, body(batch_body()), LEAN
    yield "POST", "/1001/batch/sync", post, body(batch_body()), LEAN
    charset = {**post, "Content-Type": "application/JSON; charset=utf-8"}
    yield "POST", "/1001/broadcast", charset, body(broadcast_body()), LEAN
    yield "POST", "/1001/broadcast/sync", post, body(broadcast_body()), LEAN
    job_id, message_id = answers["/1001/batch"]["job_id"], answers["/1001"]["message_id"]
    yield "GET", f"/1001/status/{job_id}", auth, b"", LEAN
    for kind in ("simple", "advanced"):
        yield "GET", f"/1001/api/dr/{message_id}/{kind}", auth, b"", LEAN
        yield "GET", f"/1001/api/dr/external/s-1/{kind}", auth, b"", LEAN
        yield "GET", f"/1001/api/dr/external/no-such-id/{kind}", auth, b"", LEAN
        yield "GET", f"/1001/api/dr/external/{kind}", auth, b"", LEAN  # message_id "external"
    # Refusals on the way: client_id, credentials, Content-Type, JSON, the body, the ids.
    yield "POST", "/1001/batch", {"Content-Type": JSON}, body(batch_body()), LEAN
    yield "POST", "/1001/batch", {**post, "Authorization": basic("alice", "no")}, b"{}", LEAN
    yield "POST", "/1001/batch", {**post, "Authorization": BOB}, b"{}", LEAN
    yield "POST", "/1001/batch", {**post, "Authorization": "Bearer x"}, b"{}", LEAN
    yield "POST", "/9999/batch", post, body(batch_body()), LEAN
    yield "POST", "/1001/batch", {**auth, "Content-Type": "text/plain"}, b"{}", LEAN
    yield "POST", "/1001/batch", auth, b"{}", LEAN
    yield "POST", "/1001/batch", post, b'{"messages": [', LEAN
    yield "POST", "/1001/batch", post, b"[]", LEAN
    yield "POST", "/1001/broadcast/sync", post, body(broadcast_body(recipients=[])), LEAN
    yield "POST", "/1001", post, body(single_body(phone_number="12")), LEAN
    yield "GET", "/1001/status/no-such-job", auth, b"", LEAN
    yield "GET", f"/1002/status/{job_id}", {"Authorization": BOB}, b"", LEAN
    yield "GET", "/1001/api/dr/no-such-message/simple", auth, b"", LEAN
    # Refused by its Content-Length before any route, lean or not.
    yield "POST", "/1001/batch", post, b"x" * 5000, None
    # Spellings the table leaves to FastAPI.
    yield "POST", "/abc/batch", post, body(batch_body()), FASTAPI
    yield "POST", "/abc", post, b"{}", FASTAPI
    yield "GET", "/1001/batch", auth, b"", FASTAPI
    yield "PUT", "/1001", post, b"{}", FASTAPI
    yield "HEAD", f"/1001/status/{job_id}", auth, b"", FASTAPI
    yield "POST", "/1001/batch/", post, body(batch_body()), FASTAPI
    yield "GET", "/1001/status/", auth, b"", FASTAPI
    yield "GET", f"/1001/api/dr/{message_id}/other", auth, b"", FASTAPI
    yield "GET", "/no/such/path", {}, b"", FASTAPI


Answer = tuple[str, str, int, list[tuple[str, str]], bytes]


def replay(server: LiveServer) -> tuple[list[Answer], set[tuple[str, str]]]:
    """The answers, and the (method, path) of the requests FastAPI should have served."""
    answers: dict[str, Any] = {}
    seen: list[Answer] = []
    routed = set()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        http.post("/_mock/reset").raise_for_status()
        for method, path, headers, content, lean in requests(answers):
            response = http.request(method, path, headers=headers, content=content)
            if response.status_code == 200 and method == "POST":
                answers[path] = response.json()
            kept = [
                (k, v.replace(server.url, "<url>"))  # a redirect's location names the port
                for k, v in response.headers.multi_items()
                if k != "date"
            ]
            seen.append((method, path, response.status_code, kept, response.content))
            if lean is FASTAPI:
                routed.add((method, path))
    return seen, routed


def test_the_lean_path_answers_what_fastapi_answers(
    lean: tuple[LiveServer, Spy], routed: LiveServer
) -> None:
    server, _ = lean
    (mine, _), (theirs, _) = replay(server), replay(routed)
    assert len(mine) == len(theirs) > 35
    for one, other in zip(mine, theirs, strict=True):
        assert one == other
    statuses = {status for _, _, status, _, _ in mine}
    assert {200, 307, 400, 401, 404, 405, 413, 415} <= statuses, statuses
    assert 500 not in statuses
    unauthorized = [headers for _, _, status, headers, _ in mine if status == 401]
    assert all(("www-authenticate", 'Basic realm="hyber"') in h for h in unauthorized)


def test_provider_requests_skip_fastapi(lean: tuple[LiveServer, Spy]) -> None:
    server, spy = lean
    spy.seen.clear()
    _, expected = replay(server)
    reached = {(method, path) for method, path in spy.seen if not path.startswith("/_mock")}
    assert reached == expected
    assert len(expected) == 9


def test_every_provider_route_is_in_the_table(lean: tuple[LiveServer, Spy]) -> None:
    server, _ = lean
    gateway = gateway_of(server)
    templates = {(method, endpoint.template) for method, endpoint in _table(gateway)}
    documented = {
        (method.upper(), path)
        for path, operations in server.app.openapi()["paths"].items()
        if path.startswith("/{client_id}")
        for method in operations
    }
    assert templates == documented
    assert len(templates) == 10


def _table(gateway: Gateway) -> list[tuple[str, Any]]:
    return [(method, endpoint) for (method, _), endpoint in gateway.provider.endpoints.items()]


def test_the_openapi_description_of_the_provider_endpoints(lean: tuple[LiveServer, Spy]) -> None:
    server, _ = lean
    spec = httpx.get(server.url + "/openapi.json").json()
    paths = spec["paths"]
    for path, model in [
        ("/{client_id}", "SingleRequest"),
        ("/{client_id}/batch", "BatchRequest"),
        ("/{client_id}/batch/sync", "BatchRequest"),
        ("/{client_id}/broadcast", "BroadcastRequest"),
        ("/{client_id}/broadcast/sync", "BroadcastRequest"),
    ]:
        operation = paths[path]["post"]
        schema = operation["requestBody"]["content"][JSON]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{model}"}
        assert [p["name"] for p in operation["parameters"]] == ["client_id"]
        assert {"200", "400", "401", "404", "415"} <= set(operation["responses"])
        assert model in spec["components"]["schemas"]
    status = paths["/{client_id}/status/{job_id}"]["get"]
    assert [p["name"] for p in status["parameters"]] == ["job_id", "client_id"]
    ok = status["responses"]["200"]["content"][JSON]["schema"]
    assert ok == {"$ref": "#/components/schemas/StatusReport"}
    advanced = paths["/{client_id}/api/dr/external/{extra_id}/advanced"]["get"]
    ok = advanced["responses"]["200"]["content"][JSON]["schema"]
    assert ok == {"$ref": "#/components/schemas/AdvancedReport"}


def _requests_total(server: LiveServer) -> dict[tuple[str, str], float]:
    text = httpx.get(server.url + "/metrics").text
    return {
        (sample.labels["endpoint"], sample.labels["status"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "mock_hyber_http_requests_total"
    }


def test_metrics_label_requests_with_their_route_template(lean: tuple[LiveServer, Spy]) -> None:
    server, _ = lean
    before = _requests_total(server)
    replay(server)
    after = _requests_total(server)
    grown = {key for key in after if after[key] > before.get(key, 0)}
    assert {
        ("POST /{client_id}", "200"),
        ("POST /{client_id}/batch", "200"),
        ("POST /{client_id}/batch/sync", "200"),
        ("POST /{client_id}/broadcast", "200"),
        ("POST /{client_id}/broadcast/sync", "200"),
        ("GET /{client_id}/status/{job_id}", "200"),
        ("GET /{client_id}/api/dr/{message_id}/simple", "200"),
        ("GET /{client_id}/api/dr/{message_id}/advanced", "200"),
        ("GET /{client_id}/api/dr/external/{extra_id}/simple", "200"),
        ("GET /{client_id}/api/dr/external/{extra_id}/advanced", "200"),
        ("POST /{client_id}/batch", "401"),
        ("POST /{client_id}/batch", "415"),
        ("POST /{client_id}/batch", "400"),
        ("GET /{client_id}/status/{job_id}", "404"),
        ("POST /{client_id}/batch", "404"),  # /abc/batch, through FastAPI
        ("POST unmatched", "413"),  # refused by its Content-Length, before any route
        ("GET unmatched", "404"),
    } <= grown
    assert (
        after[("POST /{client_id}/batch", "200")]
        - before.get(("POST /{client_id}/batch", "200"), 0)
        == 1
    )


def test_an_api_fault_answers_before_the_lean_path(lean: tuple[LiveServer, Spy]) -> None:
    server, _ = lean
    faults = {"api": [{"endpoint": "broadcast", "status": 503, "count": 1}]}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        http.post("/_mock/reset").raise_for_status()
        http.put("/_mock/faults", json=faults).raise_for_status()
        before = _requests_total(server)
        headers = {"Authorization": ALICE}
        refused = http.post("/1001/broadcast", json=broadcast_body(), headers=headers)
        accepted = http.post("/1001/broadcast", json=broadcast_body(), headers=headers)
        after = _requests_total(server)
    assert refused.status_code == 503
    assert refused.json() == {"error_code": 10503, "error_text": "Injected fault: HTTP 503"}
    assert accepted.status_code == 200 and "job_id" in accepted.json()
    assert after[("POST unmatched", "503")] - before.get(("POST unmatched", "503"), 0) == 1
    assert len(server.backend.account("1001").store.jobs) == 1


def test_the_live_server_runs_on_uvloop_and_httptools(lean: tuple[LiveServer, Spy]) -> None:
    server, _ = lean
    with httpx.Client(base_url=server.url) as http:  # a kept-alive connection to look at
        assert http.get("/_mock/health").status_code == 200
        connections = list(server._server.server_state.connections)
    assert connections and all(isinstance(c, HttpToolsProtocol) for c in connections)
    assert type(server._server.servers[0]).__module__.startswith("uvloop")


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc")
@pytest.mark.skipif(sys.platform == "win32", reason="no uvloop on Windows")
def test_serve_runs_on_uvloop_and_httptools(tmp_path: Path) -> None:
    with ServerProcess(tmp_path) as server:
        response = httpx.post(
            f"{server.url}/1001/batch", json=batch_body(), auth=("hyber", "hyber"), timeout=30
        )
        assert response.status_code == 200, response.text
        maps = Path(f"/proc/{server.pid}/maps").read_text()
    assert "/uvloop/loop." in maps
    assert "/httptools/parser/parser." in maps
