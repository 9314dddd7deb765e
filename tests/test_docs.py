"""Every fenced block of README.md and docs/*.md runs, or is named in SKIPPED with the test or
script that covers it: shell lines run against a live server (curl) or as the installed command
(`mock-hyber`), JSON bodies go to the endpoint their text names, YAML goes through the real
loader, Python runs under pytest. A new block that none of these recognise fails the count."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mock_hyber.config import Settings
from mock_hyber.engine.rules import parse_scenarios
from mock_hyber.testing.server import LiveServer
from tests.receiver import Receiver

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
DOC_URL = "http://127.0.0.1:8080"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def first(self) -> str:
        return self.text.lstrip().splitlines()[0]


def all_blocks() -> list[Block]:
    found = []
    for path in PAGES:
        source = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(source):
            line = source.count("\n", 0, match.start()) + 1
            name = str(path.relative_to(ROOT))
            found.append(Block(name, line, match.group(1), match.group(2)))
    return found


# What cannot run here, by page and the block's first line, with what covers it instead.
SKIPPED = {
    ("README.md", "pip install"): ".ci/install-check.sh runs each install line in a fresh venv",
    (
        "docs/container.md",
        "docker build",
    ): "no docker here: make container-test builds the image (podman)",
    (
        "docs/container.md",
        "docker run",
    ): "no docker here: make container-test runs the image (podman)",
    ("README.md", "fixtures/spec/"): "a directory listing, not a command",
}
# The first Python block of docs/pytest.md runs as a test file in tests/test_plugin.py.
PLUGIN_EXAMPLE = ("docs/pytest.md", "import httpx")

# JSON bodies by a key only they have: the method and path their text sends them to.
JSON_BODIES = {
    '"callbacks": {"drop"': ("PUT", "/_mock/faults"),
    '"callback_batch_size": 50': ("PATCH", "/_mock/settings"),
}


def skip_reason(block: Block) -> str | None:
    for (page, start), reason in SKIPPED.items():
        if block.page == page and block.first.startswith(start):
            return reason
    return None


def kind(block: Block) -> str:
    """How a block is checked; 'skip' for SKIPPED; raises for a block nothing checks."""
    if skip_reason(block):
        return "skip"
    if (block.page, block.first[: len(PLUGIN_EXAMPLE[1])]) == PLUGIN_EXAMPLE:
        return "plugin-example"
    if block.lang == "bash" and all(line.startswith("make ") for line in block.text.splitlines()):
        return "make"
    if block.lang == "bash" and "[--" in block.text:
        return "cli-synopsis"
    if block.lang == "bash":
        return "shell"
    if block.lang == "json" and '"hyber_status"' in block.text:
        return "callback-report"
    if block.lang == "json" and '"text": "Yes, please"' in block.text:
        return "inbound"
    if block.lang == "json" and any(key in block.text for key in JSON_BODIES):
        return "json-body"
    if block.lang == "yaml" and block.first.startswith("rules:"):
        return "scenarios"
    if block.lang == "python" and block.first.startswith("# tests/batched/conftest.py"):
        return "folder-conftest"
    if block.lang == "python" and block.first.startswith("@pytest.mark.mock_hyber"):
        return "marker"
    raise AssertionError(f"{block.id}: a ```{block.lang} block that no test checks")


BLOCKS = all_blocks()


def of_kind(name: str) -> list[Block]:
    return [block for block in BLOCKS if kind(block) == name]


def test_every_block_is_checked_or_skipped_with_a_reason() -> None:
    kinds = [kind(block) for block in BLOCKS]
    skipped = [block for block, k in zip(BLOCKS, kinds, strict=True) if k == "skip"]
    checked = [block for block, k in zip(BLOCKS, kinds, strict=True) if k != "skip"]
    assert len(checked) + len(skipped) == len(BLOCKS) >= 20
    assert len(skipped) == len(SKIPPED)  # each skip entry names exactly one block
    assert len(of_kind("plugin-example")) == 1
    assert len(of_kind("json-body")) == len(JSON_BODIES)


def test_an_unknown_block_is_not_let_through() -> None:
    with pytest.raises(AssertionError, match="no test checks"):
        kind(Block("docs/x.md", 1, "toml", "[tool]\n"))


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    # The docs' server: `make run`'s defaults (account 1001, hyber/hyber), readable DRs.
    with LiveServer(Settings(seed=7, clock_frozen=True, dr_delay=0)) as live:
        yield live


@pytest.fixture
def fresh(server: LiveServer) -> Iterator[LiveServer]:
    yield server
    httpx.post(server.url + "/_mock/reset").raise_for_status()


def run_shell(script: str, url: str) -> subprocess.CompletedProcess[str]:
    # curl fails on an HTTP error status, and any failing line fails the block.
    prelude = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; }\n'
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env = {k: v for k, v in env.items() if not k.startswith("MOCK_HYBER_")}
    return subprocess.run(
        ["bash", "-c", prelude + script.replace(DOC_URL, url)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("block", of_kind("shell"), ids=lambda b: b.id)
def test_shell_block_runs(block: Block, fresh: LiveServer) -> None:
    result = run_shell(block.text, fresh.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip(), "the block printed nothing"


@pytest.mark.parametrize("block", of_kind("cli-synopsis"), ids=lambda b: b.id)
def test_command_synopsis_matches_the_command(block: Block) -> None:
    """Each synopsis line runs without its optional parts (`serve` only to --help, as it
    would not stop), and every option it shows is one its command takes."""
    for line in block.text.splitlines():
        command = line.split("#", 1)[0].strip()
        bare = command.split(" [", 1)[0]
        assert bare.startswith("mock-hyber"), line
        runnable = f"{bare} --help" if bare == "mock-hyber serve" else bare
        result = run_shell(runnable, "")
        assert result.returncode == 0, line + "\n" + result.stderr
        if " " in bare and "--" not in bare:
            usage = run_shell(f"{bare} --help", "").stdout
            for option in re.findall(r"\[(--[a-z-]+)", command):
                assert option in usage, f"{line}: {option} is not in `{bare} --help`"


@pytest.mark.parametrize("block", of_kind("make"), ids=lambda b: b.id)
def test_make_targets_exist(block: Block) -> None:
    """`make run` serves until stopped and `make test` is the whole suite (what CI runs):
    here each target is only resolved (`make -n`), which fails for a target that is gone."""
    targets = [line.split("#", 1)[0].split()[1] for line in block.text.splitlines()]
    result = subprocess.run(
        ["make", "-n", *targets], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("block", of_kind("json-body"), ids=lambda b: b.id)
def test_json_body_is_accepted_by_its_endpoint(block: Block, fresh: LiveServer) -> None:
    [(method, path)] = [target for key, target in JSON_BODIES.items() if key in block.text]
    body = json.loads(block.text)
    answer = httpx.request(method, fresh.url + path, json=body)
    assert answer.is_success, answer.text
    httpx.put(fresh.url + "/_mock/faults", json={}).raise_for_status()


def _send_single(url: str, body: dict[str, object]) -> str:
    answer = httpx.post(f"{url}/1001", json=body, auth=("hyber", "hyber"))
    answer.raise_for_status()
    return str(answer.json()["message_id"])


def _advance(url: str, seconds: float) -> None:
    advance = {"seconds": seconds, "wait_callbacks": True}
    httpx.post(url + "/_mock/clock/advance", json=advance).raise_for_status()


def test_the_callback_report_example_has_a_real_reports_keys(fresh: LiveServer) -> None:
    [block] = of_kind("callback-report")
    example = json.loads(block.text)
    with Receiver() as receiver:
        _send_single(
            fresh.url,
            {
                "phone_number": 380000000001,  # magic: delivered on the first channel after 1 s
                "extra_id": example["extra_id"],
                "channels": ["sms"],
                "channel_options": {"sms": {"text": "Hi", "alpha_name": "Shop", "ttl": 300}},
                "callback_url": receiver.url,
            },
        )
        _advance(fresh.url, 2)
        receiver.wait_for(1, timeout=10)
        [report] = receiver.reports()
    assert list(report) == list(example)
    assert (report["sent_via"], report["hyber_status"]) == ("sms", example["hyber_status"])


def test_the_inbound_examples_are_accepted(fresh: LiveServer) -> None:
    [block] = of_kind("inbound")
    with Receiver() as receiver:
        settings = {"inbound_url": receiver.url}
        httpx.patch(fresh.url + "/_mock/settings", json=settings).raise_for_status()
        delivered = _send_single(
            fresh.url,
            {
                "phone_number": 380000000001,
                "channels": ["viber"],
                "channel_options": {"viber": {"text": "Hi", "ttl": 60}},
            },
        )
        _advance(fresh.url, 2)
        lines = block.text.replace("<a delivered message>", delivered).splitlines()
        for line in lines:
            answer = httpx.post(fresh.url + "/_mock/inbound", json=json.loads(line))
            assert answer.is_success, f"{line}: {answer.text}"
        _advance(fresh.url, 1)
        assert len(receiver.wait_for(len(lines), timeout=10)) == len(lines)


def test_the_scenario_file_loads_and_is_taken(fresh: LiveServer) -> None:
    [block] = of_kind("scenarios")
    scenarios = parse_scenarios(block.text)
    assert len(scenarios.rules) == 4
    answer = httpx.put(fresh.url + "/_mock/scenarios", content=block.text)
    assert answer.is_success, answer.text


def test_the_folder_conftest_and_marker_examples_run(pytester: pytest.Pytester) -> None:
    [conftest] = of_kind("folder-conftest")
    [marker] = of_kind("marker")
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    folder = pytester.mkpydir("tests") / "batched"
    folder.mkdir()
    (folder / "conftest.py").write_text(conftest.text)
    check = (
        "\n\n@pytest.mark.mock_hyber(seed=7)\n"
        "def test_the_folder_settings_are_in_force(mock_hyber):\n"
        '    assert mock_hyber.settings().callback_mode == "batched"\n'
    )
    (folder / "test_marker.py").write_text("import pytest\n\n\n" + marker.text + check)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=2)


def test_the_plugin_example_is_run_by_the_plugin_tests() -> None:
    [block] = of_kind("plugin-example")
    source = (ROOT / "tests" / "test_plugin.py").read_text(encoding="utf-8")
    assert "def test_the_readme_example_runs_as_written(" in source
    assert '"docs" / "pytest.md"' in source
    assert block.text.count("def test_") == 2  # the two tests it expects to pass


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to '-'."""
    prose = FENCE.sub("", markdown)
    headings = re.findall(r"^#{1,6} (.+)$", prose, re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_link_between_the_pages_resolves() -> None:
    checked = 0
    for page in PAGES:
        prose = FENCE.sub("", page.read_text(encoding="utf-8"))
        for target in re.findall(r"\]\(([^)\s]+)\)", prose):
            if re.match(r"[a-z]+:", target):
                continue  # an external URL
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            assert file.exists(), f"{page.name}: {target}"
            if anchor:
                assert anchor in _anchors(file.read_text(encoding="utf-8")), (
                    f"{page.name}: {target}"
                )
            checked += 1
    assert checked >= 30


def test_every_setting_is_on_the_configuration_page() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    table = page.split("\n## Configuration\n", 1)[1]
    missing = [name for name in Settings.model_fields if f"`{name}`" not in table]
    assert missing == []


def test_the_staging_page_gives_the_intake_slice_in_force() -> None:
    from mock_hyber.service.accept import SLICE

    page = (ROOT / "docs" / "staging.md").read_text(encoding="utf-8")
    assert f"in slices of {SLICE:,} recipients" in page
