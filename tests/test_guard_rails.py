"""Guard rails for a shared (staging) instance: the admin token on the control plane, the
request body limit, logs that never show a secret, JSON logs, and a graceful shutdown that
lets in-flight requests finish.

The token and body-limit tests use one in-process server; the log and shutdown tests share one
real server process (debug level, JSON format), run once for the module: requests with good
and bad credentials, then SIGTERM while a slowed-down batch request is in flight.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from mock_hyber.config import Settings
from mock_hyber.testing.server import LiveServer
from tests.callback_helpers import ALICE, START, batch_body
from tests.server_process import ServerProcess, wait_until

TOKEN = "adm1n-T0ken-4-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
X_TOKEN = {"X-Mock-Hyber-Token": TOKEN}
LIMIT = 4096


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    settings = Settings(
        accounts="1001:alice:secret",
        seed=9,
        clock_frozen=True,
        clock_start=START,
        admin_token=TOKEN,
        max_body_bytes=LIMIT,
    )
    with LiveServer(settings) as live:
        yield live


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        client.post("/_mock/reset", headers=BEARER).raise_for_status()
        yield client


def stored(http: httpx.Client) -> int:
    count: int = http.get("/_mock/health").json()["messages"]
    return count


# -- the admin token -------------------------------------------------------------------------

GUARDED = [
    ("POST", "/_mock/reset"),
    ("GET", "/_mock/messages"),
    ("GET", "/_mock/jobs"),
    ("GET", "/_mock/clock"),
    ("POST", "/_mock/clock/advance"),
    ("GET", "/_mock/callbacks"),
    ("PUT", "/_mock/faults"),
    ("GET", "/_mock/no-such-control-path"),
    ("GET", "/metrics"),
]


@pytest.mark.parametrize(("method", "path"), GUARDED)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"X-Mock-Hyber-Token": "wrong-token"},
        {"Authorization": f"Basic {base64.b64encode(b'alice:secret').decode()}"},
        {"Authorization": TOKEN},  # no scheme
        {"X-Mock-Hyber-Token": TOKEN[:-1]},  # a prefix of the token
    ],
    ids=["none", "wrong-bearer", "wrong-header", "basic", "no-scheme", "prefix"],
)
def test_control_paths_and_metrics_need_the_token(
    http: httpx.Client, method: str, path: str, headers: dict[str, str]
) -> None:
    answer = http.request(method, path, headers=headers, json={"seconds": 1})
    assert answer.status_code == 401
    assert answer.json() == {
        "error_code": 10401,
        "error_text": "Unauthorized: this control path needs the admin token",
    }
    assert answer.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("headers", [BEARER, X_TOKEN, {"authorization": f"bearer {TOKEN}"}])
def test_the_token_opens_the_control_plane_and_metrics(
    http: httpx.Client, headers: dict[str, str]
) -> None:
    sent = http.post("/1001/batch", json=batch_body(None, ["380501234567"]), auth=ALICE)
    assert sent.status_code == 200
    assert http.get("/_mock/messages", headers=headers).json()["total"] == 1
    assert http.get("/metrics", headers=headers).status_code == 200
    advance = http.post("/_mock/clock/advance", json={"seconds": 1}, headers=headers)
    assert advance.status_code == 200
    assert http.post("/_mock/reset", headers=headers).status_code == 200
    assert http.get("/_mock/messages", headers=headers).json()["total"] == 0


def test_the_health_check_stays_open(http: httpx.Client) -> None:
    answer = http.get("/_mock/health")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    assert http.get("/_mock/health", params={"x": "1"}).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/_mock/reset/"),
        ("POST", "/%5Fmock/reset"),
        ("POST", "/_mock%2Freset"),
        ("GET", "/_mock/health/../messages"),
        ("GET", "/metrics/"),
        ("GET", "/metrics?format=text"),
        ("POST", "//_mock/reset"),
    ],
)
def test_no_path_spelling_gets_past_the_token(server: LiveServer, method: str, path: str) -> None:
    # Raw request targets (httpx would normalise some of them).
    with httpx.Client(base_url=server.url, timeout=10) as client:
        request = client.build_request(method, server.url + "/")
        request.url = request.url.copy_with(raw_path=path.encode())
        answer = client.send(request)
        assert answer.status_code in (401, 404, 307), (path, answer.status_code)
        assert answer.status_code != 200


def test_provider_endpoints_keep_basic_auth_and_ignore_the_token(http: httpx.Client) -> None:
    body = batch_body(None, ["380501234567"])
    assert http.post("/1001/batch", json=body, auth=ALICE).status_code == 200
    for headers in (BEARER, X_TOKEN, {}):
        answer = http.post("/1001/batch", json=body, headers=headers)
        assert answer.status_code == 401, headers
        assert answer.json()["error_code"] == 10401
        assert answer.headers["www-authenticate"].startswith("Basic")
    job_id = http.get("/_mock/jobs", headers=BEARER).json()["jobs"][0]["job_id"]
    assert http.get(f"/1001/status/{job_id}", auth=ALICE).status_code == 200


# -- the body limit --------------------------------------------------------------------------


def padded_batch(size: int) -> bytes:
    """A valid batch body of exactly `size` bytes (an ignored top-level field pads it)."""
    body = batch_body(None, ["380501234567", "380501234568"])
    body["pad"] = ""
    raw = json.dumps(body, separators=(",", ":")).encode()
    body["pad"] = "x" * (size - len(raw))
    raw = json.dumps(body, separators=(",", ":")).encode()
    assert len(raw) == size
    return raw


def post_raw(http: httpx.Client, raw: bytes | Iterator[bytes]) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    return http.post("/1001/batch", content=raw, headers=headers, auth=ALICE)


def test_a_body_above_the_limit_is_refused_and_nothing_is_accepted(http: httpx.Client) -> None:
    big = batch_body(None, [f"38050{n:07d}" for n in range(300)])
    assert len(json.dumps(big)) > LIMIT
    answer = http.post("/1001/batch", json=big, auth=ALICE)
    assert answer.status_code == 413
    assert stored(http) == 0
    assert http.get("/_mock/jobs", headers=BEARER).json()["total"] == 0
    # The server keeps serving, on the same connection too.
    ok = http.post("/1001/batch", json=batch_body(None, ["380501234567"]), auth=ALICE)
    assert ok.status_code == 200
    assert stored(http) == 1


def test_the_limit_is_inclusive(http: httpx.Client) -> None:
    assert post_raw(http, padded_batch(LIMIT)).status_code == 200
    assert post_raw(http, padded_batch(LIMIT + 1)).status_code == 413
    assert stored(http) == 2


def test_a_streamed_body_above_the_limit_gets_a_hyber_413(http: httpx.Client) -> None:
    raw = padded_batch(LIMIT + 500)

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        for start in range(0, len(raw), 1000):
            yield raw[start : start + 1000]

    answer = post_raw(http, chunks())
    assert answer.status_code == 413
    assert answer.json() == {"error_code": 10413, "error_text": "Request body too large"}
    assert stored(http) == 0


def test_a_body_above_the_limit_gets_a_hyber_413(http: httpx.Client) -> None:
    answer = post_raw(http, padded_batch(LIMIT + 1))
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == {"error_code": 10413, "error_text": "Request body too large"}


def test_the_limit_covers_the_control_plane_too(http: httpx.Client) -> None:
    answer = http.put("/_mock/scenarios", content=b"#" * (LIMIT + 1), headers=BEARER)
    assert answer.status_code == 413
    rules = http.get("/_mock/scenarios", headers=BEARER).json()["scenarios"]["1001"]
    assert rules["rules"] == []


# -- one real server process: logs and shutdown ----------------------------------------------

PASSWORD = "S3cr3tPassw0rd"
PROCESS_TOKEN = "Pr0cess-Adm1n-T0ken"
HMAC_SECRET = "Hm4c-S1gn1ng-S3cret"
SECRETS = [
    PASSWORD,
    base64.b64encode(f"alice:{PASSWORD}".encode()).decode(),
    base64.b64encode(f"mallory:{PASSWORD}".encode()).decode(),
    base64.b64encode(b"alice:wrong-password").decode(),
    PROCESS_TOKEN,
    HMAC_SECRET,
]


@dataclass
class Run:
    server: ServerProcess
    stderr: str = ""
    stdout: str = ""
    in_flight: httpx.Response | None = None
    in_flight_error: BaseException | None = None
    in_flight_seconds: float = 0.0
    exit_code: int | None = None
    exit_seconds: float = 0.0
    jobs_before: list[str] = field(default_factory=list)
    jobs_after_restart: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Start a server (debug, JSON logs, a secret password, token and HMAC secret, SQLite),
    send good and bad requests, then SIGTERM during a batch request slowed by 1.5 s; restart
    to see what was kept."""
    tmp_path: Path = tmp_path_factory.mktemp("guard_rails")
    server = ServerProcess(
        tmp_path,
        MOCK_HYBER_ACCOUNTS=f"1001:alice:{PASSWORD}",
        MOCK_HYBER_LOG_LEVEL="debug",
        MOCK_HYBER_LOG_FORMAT="json",
        MOCK_HYBER_ADMIN_TOKEN=PROCESS_TOKEN,
        MOCK_HYBER_CALLBACK_HMAC_SECRET=HMAC_SECRET,
        MOCK_HYBER_STORE=f"sqlite:///{tmp_path}/mock.db",
        MOCK_HYBER_SEED="4",
        MOCK_HYBER_CLOCK_FROZEN="true",
        MOCK_HYBER_CLOCK_START=START,
    )
    result = Run(server)
    token = {"X-Mock-Hyber-Token": PROCESS_TOKEN}
    good = ("alice", PASSWORD)
    body = batch_body(None, ["380501234567", "380501234568"])
    try:
        server.start()
        with server.client() as http:
            assert http.post("/1001/batch", json=body, auth=good).status_code == 200
            for auth in (("alice", "wrong-password"), ("mallory", PASSWORD), None):
                assert http.post("/1001/batch", json=body, auth=auth).status_code == 401
            garbage = {"Authorization": "Basic !!!not-base64!!!"}
            assert http.post("/1001/batch", json=body, headers=garbage).status_code == 401
            # The password inside a malformed body.
            bad = http.post(
                "/1001/batch",
                content=f'{{"messages": "{PASSWORD}"'.encode(),
                headers={"Content-Type": "application/json"},
                auth=good,
            )
            assert bad.status_code == 400
            wrong = http.get("/_mock/jobs", headers={"X-Mock-Hyber-Token": "nope"})
            assert wrong.status_code == 401
            wrong = http.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            jobs = http.get("/_mock/jobs", headers=token).json()["jobs"]
            result.jobs_before = [job["job_id"] for job in jobs]
            faults = {"api": [{"endpoint": "batch", "latency": 1.5, "count": 1}]}
            assert http.put("/_mock/faults", json=faults, headers=token).status_code == 200

            def in_flight() -> None:
                started = time.monotonic()
                try:
                    with server.client(timeout=20) as other:
                        result.in_flight = other.post("/1001/batch", json=body, auth=good)
                except BaseException as exc:  # reported by the test that reads it
                    result.in_flight_error = exc
                result.in_flight_seconds = time.monotonic() - started

            thread = threading.Thread(target=in_flight, daemon=True)
            sent = time.monotonic()
            thread.start()

            def fault_hit() -> bool:
                view = http.get("/_mock/faults", headers=token).json()
                return bool(view["faults"]["1001"]["api"][0]["remaining"] == 0)

            wait_until(fault_hit, timeout=10, interval=0.02, what="the batch request arrived")
            time.sleep(max(0.0, 0.3 - (time.monotonic() - sent)))
        stopping = time.monotonic()
        result.exit_code = server.terminate(timeout=15)
        result.exit_seconds = time.monotonic() - stopping
        thread.join(timeout=20)
        result.stderr, result.stdout = server.err, server.out

        server.start(MOCK_HYBER_LOG_LEVEL="warning")
        with server.client() as http:
            jobs = http.get("/_mock/jobs", headers=token).json()["jobs"]
            result.jobs_after_restart = [job["job_id"] for job in jobs]
        server.terminate()
        yield result
    finally:
        server.kill()


def test_logs_never_contain_passwords_tokens_or_secrets(run: Run) -> None:
    output = run.stderr + run.stdout
    assert "POST /1001/batch" in output  # debug level: requests were logged
    for secret in SECRETS:
        assert secret not in output, f"{secret!r} appears in the server's output"


def test_json_logs_have_one_object_per_line(run: Run) -> None:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) >= 10
    for line in lines:
        entry = json.loads(line)  # raises on a line that is not JSON
        assert isinstance(entry, dict), line
        assert {"time", "level", "logger", "message"} <= set(entry), line
    levels = {json.loads(line)["level"] for line in lines}
    assert "info" in levels
    assert run.stdout.strip() == "" or all(
        isinstance(json.loads(line), dict) for line in run.stdout.splitlines() if line.strip()
    )


def test_sigterm_lets_the_in_flight_request_finish(run: Run) -> None:
    assert run.in_flight_error is None, repr(run.in_flight_error)
    assert run.in_flight is not None
    assert run.in_flight.status_code == 200, run.in_flight.text
    job_id = run.in_flight.json()["job_id"]
    assert run.in_flight_seconds >= 1.5  # it did wait for the injected latency
    assert run.exit_seconds < 6.0  # 1.5 s of latency left at most, then a quick shutdown
    assert run.exit_code is not None
    # Accepted while shutting down, and persisted: there after a restart.
    assert run.jobs_after_restart == [*run.jobs_before, job_id]


def test_sigterm_exits_with_status_0(run: Run) -> None:
    assert run.exit_code == 0


@pytest.mark.parametrize(
    "accounts",
    [
        "1001:alice:s3cret-one,1001:bob:s3cret-two",  # duplicate client_id
        '[{"client_id": "1001", "login": "a", "password": "s3cret-one", "bogus": 1}]',
        "1001:alice:s3cret-one,x:bob:s3cret-two",  # a client_id that is not a number
    ],
)
def test_a_configuration_error_never_prints_a_password(accounts: str) -> None:
    """A bad MOCK_HYBER_ACCOUNTS stops the server with a one-line error naming the problem,
    and without echoing the value (it holds passwords)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCK_HYBER_")}
    env["MOCK_HYBER_ACCOUNTS"] = accounts
    done = subprocess.run(
        [sys.executable, "-m", "mock_hyber", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "bad configuration: accounts" in done.stderr
    assert "s3cret" not in done.stderr + done.stdout
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("path", "auth"),
    [("/1001/batch", "Basic YWxpY2U6c2VjcmV0"), ("/_mock/scenarios", None)],
)
def test_an_aborted_upload_is_one_info_line_not_an_error(
    caplog: pytest.LogCaptureFixture, path: str, auth: str | None
) -> None:
    """The client promises 10,000 bytes, sends 20 and hangs up: the mock logs one INFO line,
    no ERROR (the pytest plugin fails a test on the mock's errors), and keeps serving."""
    import socket
    import time

    settings = Settings(accounts="1001:alice:secret", seed=1, clock_frozen=True)
    with LiveServer(settings) as live, caplog.at_level(logging.INFO, logger="mock_hyber"):
        port = int(live.url.rsplit(":", 1)[1])
        method = "PUT" if path.startswith("/_mock") else "POST"
        head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        if auth:
            head += f"Authorization: {auth}\r\n"
        head += "Content-Length: 10000\r\n\r\n"
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(head.encode() + b'{"messages": [')
            time.sleep(0.2)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
            "closed the connection" in r.getMessage() for r in caplog.records
        ):
            time.sleep(0.02)
        assert httpx.get(f"{live.url}/_mock/health").status_code == 200
    mine = [r for r in caplog.records if r.name.startswith("mock_hyber")]
    assert [r.levelname for r in mine if r.levelno >= logging.WARNING] == []
    assert len([r for r in mine if "closed the connection" in r.getMessage()]) == 1


def test_an_oversized_chunked_body_gets_413_while_a_drop_fault_is_set() -> None:
    """A drop fault reads the request before cutting its answer; a streamed body over the
    limit still gets the Hyber 413, not a 500 (issue 10, finding 9)."""
    settings = Settings(accounts="1001:alice:secret", seed=1, max_body_bytes=1024)
    with LiveServer(settings) as live, httpx.Client(base_url=live.url, timeout=10) as http:
        faults = {"api": [{"endpoint": "batch", "drop": True}]}
        http.put("/_mock/faults", json=faults).raise_for_status()

        def chunks() -> Iterator[bytes]:  # no Content-Length: the size shows only in transit
            yield b'{"messages": ['
            for _ in range(50):
                yield b'{"phone_number": 380961111111, "text": "' + b"x" * 100 + b'"},'
            yield b"{}]}"

        answer = http.post(
            "/1001/batch",
            content=chunks(),
            auth=("alice", "secret"),
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 413, answer.text
        assert answer.json()["error_code"] == 10413


def test_a_failing_item_is_counted_and_a_dead_loop_makes_health_fail() -> None:
    """Every background loop survives an exception in one item (logged, counted in
    /metrics); a loop that stops is reported by /_mock/health as unhealthy (503), which the
    container healthcheck sees (issue 10)."""
    settings = Settings(accounts="1001:alice:secret", seed=1, retention_interval=0.05)
    with LiveServer(settings) as live, httpx.Client(base_url=live.url, timeout=10) as http:
        loops = live.app.state.loops
        calls = [0]

        def flaky() -> None:
            calls[0] += 1
            if calls[0] == 1:
                raise RuntimeError("one bad pass")

        loops.retention.run_once = flaky
        deadline = time.monotonic() + 5
        while calls[0] < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert calls[0] >= 3  # the loop went on after the failure
        metrics = http.get("/metrics").text
        assert 'mock_hyber_loop_errors_total{loop="retention"} 1.0' in metrics
        assert 'mock_hyber_loop_up{loop="retention"} 1.0' in metrics
        assert http.get("/_mock/health").status_code == 200

        loops.intake.dead = "RuntimeError: simulated"  # as _supervised records a dead loop
        answer = http.get("/_mock/health")
        assert answer.status_code == 503
        assert answer.json()["status"] == "unhealthy"
        assert answer.json()["dead_loops"] == {"intake": "RuntimeError: simulated"}
        assert 'mock_hyber_loop_up{loop="intake"} 0.0' in http.get("/metrics").text
        loops.intake.dead = None


def test_a_loop_that_raises_is_recorded_dead_not_lost() -> None:
    from mock_hyber.loops.task import Loop

    class Broken(Loop):
        name = "broken"

        async def run(self) -> None:
            raise KeyError("the loop itself")

    async def scenario() -> str | None:
        loop = Broken()
        loop.start()
        await asyncio.sleep(0.01)
        await loop.stop()
        return loop.dead

    assert asyncio.run(scenario()) == "KeyError: 'the loop itself'"


@pytest.mark.parametrize("path", ["/1001/batch", "/_mock/scenarios"])
def test_a_body_that_stops_coming_gets_408_after_body_timeout(path: str) -> None:
    """A client that sends part of its body and then nothing does not hold the request open:
    after `body_timeout` seconds it gets a Hyber 408 and the connection is closed."""
    import socket

    settings = Settings(accounts="1001:alice:secret", seed=1, body_timeout=0.3)
    with LiveServer(settings) as live:
        port = int(live.url.rsplit(":", 1)[1])
        method = "PUT" if path.startswith("/_mock") else "POST"
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Authorization: Basic YWxpY2U6c2VjcmV0\r\nContent-Length: 10000\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(head.encode() + b'{"messages": [')
            started = time.monotonic()
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
            waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"error_code":10408' in answer
    assert waited < 4  # the 0.3 s timeout, not the client's patience


def _read_until_closed(port: int, sent: bytes) -> tuple[bytes, float]:
    """Send `sent` and read until the server closes (or the 5 s socket timeout raises)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        if sent:
            sock.sendall(sent)
        started = time.monotonic()
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        return answer, time.monotonic() - started


def test_headers_that_stop_coming_get_408_after_header_timeout() -> None:
    """Issue 10, finding 9: a request whose headers never finish held its connection open for
    as long as the client liked. After `header_timeout` it gets a Hyber 408 and is closed, on a
    new connection and on the next request of a kept-alive one."""
    settings = Settings(accounts="1001:alice:secret", seed=1, header_timeout=0.3)
    with LiveServer(settings) as live:
        port = int(live.url.rsplit(":", 1)[1])
        partial = b"POST /1001/batch HTTP/1.1\r\nHost: x\r\nContent-Type: app"
        answer, waited = _read_until_closed(port, partial)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b'"error_code":10408' in answer and b"headers did not arrive" in answer
        assert waited < 4
        health = b"GET /_mock/health HTTP/1.1\r\nHost: x\r\n\r\n"
        answer, waited = _read_until_closed(port, health + b"GET /_mock/health HTTP/1.1\r\n")
        assert answer.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 408" in answer, answer[-300:]
        assert waited < 4


def test_a_connection_that_sends_nothing_is_closed_after_header_timeout() -> None:
    settings = Settings(accounts="1001:alice:secret", seed=1, header_timeout=0.3)
    with LiveServer(settings) as live:
        answer, waited = _read_until_closed(int(live.url.rsplit(":", 1)[1]), b"")
    assert answer == b"" and waited < 4
