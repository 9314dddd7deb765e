"""A client generated from the served OpenAPI description works: openapi-python-client, in a
scratch virtualenv of its own, builds a client; with it a script sends a batch (Basic auth),
advances the clock (the admin token) and reads the campaign status, against a live server on
127.0.0.1.

The scratch virtualenv is kept in .venv-tools/ between runs. The test is skipped, saying why,
only when pip cannot install the generator (no package index reachable).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mock_hyber.config import Settings
from mock_hyber.testing.server import LiveServer
from tests.bodies import batch_body

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".venv-tools" / "openapi-python-client"
GENERATOR = "openapi-python-client>=0.21,<1"
TOKEN = "client-token"

pytestmark = pytest.mark.slow

SCRIPT = """
import base64, json, sys
from client import AuthenticatedClient
from client.api.control import advance_clock
from client.api.reports import get_status
from client.api.sending import send_batch
from client.models import BatchRequest, ClockAdvance, ClocksResponse, JobIdResponse, StatusReport

url, token, batch = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
basic = base64.b64encode(b"alice:secret").decode()
alice = AuthenticatedClient(base_url=url, token=basic, prefix="Basic")
admin = AuthenticatedClient(base_url=url, token=token)

sent = send_batch.sync(client_id="1001", client=alice, body=BatchRequest.from_dict(batch))
assert isinstance(sent, JobIdResponse), sent
clocks = advance_clock.sync(client=admin, body=ClockAdvance(seconds=3600), client_id="1001")
assert isinstance(clocks, ClocksResponse), clocks
status = get_status.sync(client_id="1001", job_id=sent.job_id, client=alice)
assert isinstance(status, StatusReport), status
print(json.dumps({
    "job_id": sent.job_id,
    "now_ms": clocks.clocks["1001"].now_ms,
    "items": [item.to_dict() for item in status.messages],
}))
"""


def _run(*args: str | Path, timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, timeout=timeout, **kwargs
    )


@pytest.fixture(scope="module")
def generator() -> Path:
    """The generator's command, installed once into the scratch virtualenv."""
    command = TOOLS / "bin" / "openapi-python-client"
    if command.exists():
        return command
    _run(sys.executable, "-m", "venv", "--clear", TOOLS, timeout=300).check_returncode()
    pip = _run(TOOLS / "bin" / "python", "-m", "pip", "install", "-q", GENERATOR, timeout=600)
    if pip.returncode != 0:
        pytest.skip(f"pip could not install {GENERATOR}: {pip.stderr.strip()[-500:]}")
    return command


@pytest.fixture(scope="module")
def guarded() -> Iterator[LiveServer]:
    settings = Settings(
        accounts="1001:alice:secret",
        seed=5,
        admin_token=TOKEN,
        clock_frozen=True,
        clock_start="2026-01-01T00:00:00Z",
    )
    with LiveServer(settings) as live:
        yield live


def test_a_generated_client_sends_a_batch_and_advances_the_clock(
    generator: Path, guarded: LiveServer, tmp_path: Path
) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text(httpx.get(f"{guarded.url}/openapi.json", timeout=10).text)
    config = tmp_path / "generator.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run on the generated code
    generated = _run(
        generator,
        "generate",
        "--path",
        spec,
        "--meta",
        "none",
        "--output-path",
        tmp_path / "client",
        "--config",
        config,
        "--fail-on-warning",  # the description must generate without anything left out
        timeout=300,
        cwd=tmp_path,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    run = _run(
        TOOLS / "bin" / "python",
        "-c",
        textwrap.dedent(SCRIPT),
        guarded.url,
        TOKEN,
        json.dumps(batch_body()),
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["now_ms"] == 1767225600000 + 3600 * 1000
    items = result["items"]
    assert [item["extra_id"] for item in items] == ["b-1", "b-2"]
    # After an hour every SMS has its final answer: a status, or an error (expired, failed).
    assert all(item.get("status") != -1 for item in items), items
    assert all("status_text" in item or "error_code" in item for item in items), items
    job = httpx.get(
        f"{guarded.url}/_mock/jobs/{result['job_id']}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert job.status_code == 200 and job.json()["client_id"] == "1001"
