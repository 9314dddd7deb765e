"""The pytest plugin, as a user's test suite sees it: small test files run by pytester in a
subprocess (so the plugin is loaded by its `pytest11` entry point, as in a user's project)."""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from mock_hyber import LiveServer, MockHyberClient, Settings

pytest_plugins = ["pytester"]

INI = """
[pytest]
filterwarnings = error
{extra}
"""

HELPERS = """
VIBER_SMS = {
    "viber": {"text": "Hello", "ttl": 60},
    "sms": {"text": "Hello", "alpha_name": "Shop", "ttl": 300},
}

def single(phone, **extra):
    return {"phone_number": phone, "channels": ["viber", "sms"],
            "channel_options": VIBER_SMS, **extra}
"""


def run(
    pytester: pytest.Pytester, source: str, *args: str, ini: str = "", subprocess: bool = False
) -> pytest.RunResult:
    """Run `source` as a user's test file. In-process is fast; a subprocess is a fresh
    interpreter, exactly as a user's `pytest` run."""
    pytester.makeini(INI.format(extra=ini))
    pytester.makepyfile(HELPERS + source)
    if subprocess:
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)
    # In this process mock_hyber is imported already, so pytest cannot rewrite its asserts.
    quiet = "ignore::pytest.PytestAssertRewriteWarning"
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", quiet, *args)


def test_the_entry_point_names_the_plugin() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert found.get("mock_hyber") == "mock_hyber.testing.plugin"


def test_fixtures_with_the_default_options(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import pytest

def test_frozen_clock_and_default_seed(mock_hyber):
    assert mock_hyber.clock().frozen
    assert mock_hyber.health().seed == 1234
    assert mock_hyber.client_id == "1001"

def test_deliver_and_receive(mock_hyber, callback_receiver):
    message_id = mock_hyber.send_single(single(380000000002, callback_url=callback_receiver.url))
    mock_hyber.advance(59)
    assert mock_hyber.message(message_id).state == "active"
    mock_hyber.advance(3)
    assert mock_hyber.assert_delivered(380000000002, via="sms").message_id == message_id
    [report] = callback_receiver.wait_for(1, timeout=5)
    assert (report["message_id"], report["sent_via"]) == (message_id, "sms")

def test_each_test_starts_from_a_reset(mock_hyber):
    assert mock_hyber.messages() == []
    assert mock_hyber.callbacks() == []

def test_one_server_per_session(mock_hyber_server, mock_hyber, pytestconfig):
    assert mock_hyber.base_url == mock_hyber_server.url
    assert mock_hyber_server.url.startswith("http://127.0.0.1:")
""",
        "-p",
        "no:randomly",
        subprocess=True,
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["mock_hyber: a live server per session*seed 1234, clock frozen"])


def test_command_line_options(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_options_reach_the_server(mock_hyber):
    clock = mock_hyber.clock()
    assert not clock.frozen and clock.speed == 50
    assert clock.now.startswith("2030-05-01T")
    assert mock_hyber.health().seed == 99
    assert (mock_hyber.client_id, mock_hyber.login) == ("2002", "shop")
    mock_hyber.send_single(single(380000000001))
    message = mock_hyber.wait_for_status(380000000001, "delivered", timeout=10)
    assert message.delivered_via == "viber"
""",
        "--mock-hyber-seed=99",
        "--no-mock-hyber-frozen",
        "--mock-hyber-speed=50",
        "--mock-hyber-clock-start=2030-05-01T00:00:00Z",
        "--mock-hyber-account=2002:shop:secret",
    )
    result.assert_outcomes(passed=1)


def test_ini_options(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_ini_reaches_the_server(mock_hyber):
    assert mock_hyber.health().seed == 5
    assert mock_hyber.clock().speed == 3
""",
        ini="mock_hyber_seed = 5\nmock_hyber_speed = 3",
    )
    result.assert_outcomes(passed=1)


def test_settings_fixture_can_be_overridden(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import pytest
from mock_hyber import Settings

@pytest.fixture(scope="session")
def mock_hyber_settings():
    return Settings(
        seed=3, clock_frozen=True, accounts="2001:shop:pw,2002:other:pw",
        callback_mode="batched", callback_batch_period=1,
    )
"""
    )
    result = run(
        pytester,
        """
def test_batched_reports(mock_hyber, callback_receiver):
    assert (mock_hyber.client_id, mock_hyber.login) == ("2001", "shop")  # the first account
    body = {
        "messages": [{"phone_number": 380000000001}, {"phone_number": 380000000005}],
        "callback_url": callback_receiver.url, **single(0),
    }
    del body["phone_number"]
    mock_hyber.send_batch(body)
    mock_hyber.advance(5)
    assert len(callback_receiver.requests) == 1  # one POST with both reports
    assert sorted(r["number"] for r in callback_receiver.reports) == [
        "380000000001", "380000000005",
    ]
""",
    )
    result.assert_outcomes(passed=1)


def test_the_seed_makes_runs_reproducible(pytester: pytest.Pytester) -> None:
    source = """
def test_ids(mock_hyber):
    ids = [mock_hyber.send_single(single(380000000001 + n)) for n in range(3)]
    print("IDS=" + ",".join(ids))

def test_ids_again_after_the_reset(mock_hyber):
    ids = [mock_hyber.send_single(single(380000000001 + n)) for n in range(3)]
    print("IDS=" + ",".join(ids))
"""

    def ids(*args: str) -> list[str]:
        result = run(pytester, source, "-s", "-p", "no:randomly", *args)
        result.assert_outcomes(passed=2)
        return re.findall(r"IDS=(\S+)", result.stdout.str())

    first = ids("--mock-hyber-seed=31")
    assert len(first) == 2 and first[0] == first[1]  # a reset restarts the random source
    assert ids("--mock-hyber-seed=31") == first
    assert ids("--mock-hyber-seed=32") != first


def test_assert_delivered_failure_shows_what_happened(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_expects_sms(mock_hyber):
    mock_hyber.send_single(single(380000000003))
    mock_hyber.advance(61)
    mock_hyber.assert_delivered(380000000003, via="sms")
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: no message to 380000000003 was delivered via sms",
            "*messages to 380000000003:",
            "*channels viber -> sms): state active",
            "*plan (magic 380000000003): +0s start viber; +60s expired viber; +60s start sms;*",
            "*clock: * (frozen), * events pending: advance the clock to let them happen",
        ]
    )


def test_failures_away_from_the_test_surface_at_teardown(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import httpx, logging

def test_receiver_gets_a_get(callback_receiver):
    httpx.get(callback_receiver.url)

def test_server_logs_an_error(mock_hyber):
    logging.getLogger("mock_hyber.engine").error("engine step failed")
""",
    )
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*CallbackReceiverError: the callback receiver had 1 failure(s)*unexpected GET*",
            "*mock_hyber had errors during this test*",
            "*mock_hyber.engine: engine step failed",
        ]
    )


def test_an_already_running_server(pytester: pytest.Pytester) -> None:
    settings = Settings(
        seed=77, accounts="1001:hyber:hyber", admin_token="t0ken", log_level="warning"
    )
    with LiveServer(settings) as server:
        result = run(
            pytester,
            """
def test_uses_it(mock_hyber):
    assert mock_hyber.health().seed == 77
    assert mock_hyber.clock().frozen  # the session's clock options apply to the account
    mock_hyber.send_single(single(380000000001))
""",
            f"--mock-hyber-url={server.url}",
            "--mock-hyber-admin-token=t0ken",
        )
        result.assert_outcomes(passed=1)
        with MockHyberClient(server.url, admin_token="t0ken") as client:
            assert len(client.messages()) == 1
    result.stdout.fnmatch_lines([f"mock_hyber: {server.url} (its own seed and settings)*"])


def test_each_xdist_worker_has_its_own_server(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    tests = "\n".join(
        f"""
def test_{n}(mock_hyber, mock_hyber_server):
    with open(pathlib.Path(__file__).parent / "urls.txt", "a") as out:
        out.write(os.environ["PYTEST_XDIST_WORKER"] + " " + mock_hyber_server.url + "\\n")
    mock_hyber.send_single(single(380000000001))
    mock_hyber.advance(1)
    mock_hyber.assert_delivered(380000000001, via="viber")
    assert len(mock_hyber.messages()) == 1
"""
        for n in range(8)
    )
    result = run(pytester, "import os, pathlib\n" + tests, "-n", "2")
    result.assert_outcomes(passed=8)
    seen = {tuple(line.split()) for line in (pytester.path / "urls.txt").read_text().splitlines()}
    workers = {worker for worker, _ in seen}
    urls = {url for _, url in seen}
    assert len(workers) == len(urls) == len(seen) == 2  # one server per worker, not shared


def test_the_readme_example_runs_as_written(pytester: pytest.Pytester) -> None:
    """The first example of docs/pytest.md is a real, passing test file."""
    page = (Path(__file__).resolve().parent.parent / "docs" / "pytest.md").read_text()
    section = page.split("# Use it in your tests", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S)
    assert example is not None
    pytester.makeini(INI.format(extra=""))
    pytester.makepyfile(test_readme=example.group(1))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
