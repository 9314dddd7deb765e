"""The command line: --version, a flag for every setting and `--set key=value` (read as the
environment variable would be), warnings for unknown MOCK_HYBER_* variables, a busy port
reported before any "listening" line, and the `magic` and `accounts` subcommands."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mock_hyber.cli import build_parser, main
from mock_hyber.cli_flags import setting_values
from mock_hyber.config import Settings, load_settings
from mock_hyber.testing.server import LiveServer
from mock_hyber.version import __version__
from tests.server_process import wait_until


def clean_environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("MOCK_HYBER_")}
    env.update(extra)
    return env


def run_cli(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m mock_hyber ARGS` as a separate process, with only `env` of MOCK_HYBER_*."""
    return subprocess.run(
        [sys.executable, "-m", "mock_hyber", *args],
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.upper().startswith("MOCK_HYBER_"):
            monkeypatch.delenv(name)
    return monkeypatch


def settings_from(*argv: str) -> Settings:
    """What `mock-hyber serve ARGV` would run with (parsed in this process)."""
    args = build_parser().parse_args(["serve", *argv])
    return load_settings(args.config, setting_values(args, args.parser))


# -- --version and --help ----------------------------------------------------------------------


def test_version() -> None:
    done = run_cli("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"mock-hyber {__version__}"


def test_every_subcommand_in_the_help_runs() -> None:
    help_text = run_cli("--help").stdout
    commands = re.search(r"\{([a-z,]+)\}", help_text)
    assert commands is not None, help_text
    assert set(commands.group(1).split(",")) == {"serve", "magic", "accounts"}
    for command in ("magic", "accounts"):
        done = run_cli(command)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip()


# -- a flag for every setting ------------------------------------------------------------------


def test_every_setting_has_a_flag() -> None:
    options = build_parser().parse_args(["serve"]).parser._option_string_actions
    missing = [
        name for name in Settings.model_fields if "--" + name.replace("_", "-") not in options
    ]
    assert missing == []


def test_flags_give_settings(env: pytest.MonkeyPatch) -> None:
    settings = settings_from(
        "--port",
        "0",
        "--clock-frozen",
        "--callback-mode",
        "batched",
        "--callback-allowed-hosts",
        "a.example.com,*.b.example.com",
        "--accounts",
        "5:a:b,6:c:d",
        "--clock-start",
        "2026-01-01T00:00:00Z",
        "--no-callback-report-seen",
    )
    assert settings.port == 0
    assert settings.clock_frozen is True
    assert settings.callback_mode == "batched"
    assert settings.callback_allowed_hosts == ["a.example.com", "*.b.example.com"]
    assert [a.client_id for a in settings.accounts] == ["5", "6"]
    assert settings.clock_start is not None and settings.clock_start.year == 2026
    assert settings.callback_report_seen is False


def test_set_takes_any_setting_as_its_variable_would(env: pytest.MonkeyPatch) -> None:
    settings = settings_from(
        "--set", "clock_speed=2.5", "--set", "CALLBACK-REPORT-LATE=yes", "--set", "seed=7"
    )
    assert (settings.clock_speed, settings.callback_report_late, settings.seed) == (2.5, True, 7)


def test_flag_beats_set_beats_environment_beats_file(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("seed: 1\nclock_speed: 4\nmax_recipients: 3\nport: 1\n")
    env.setenv("MOCK_HYBER_SEED", "2")
    env.setenv("MOCK_HYBER_CLOCK_SPEED", "5")
    env.setenv("MOCK_HYBER_PORT", "2")
    settings = settings_from(
        "--config", str(config), "--set", "seed=3", "--set", "port=3", "--port", "4"
    )
    assert (settings.port, settings.seed, settings.clock_speed) == (4, 3, 5.0)
    assert settings.max_recipients == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--set", "seeed=1"], "unknown setting 'seeed' (did you mean seed?)"),
        (["--set", "seed"], "--set takes KEY=VALUE"),
        (["--callback-mode", "sometimes"], "invalid choice"),
    ],
)
def test_bad_flags_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["accounts", *argv])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def test_a_bad_flag_value_is_one_line_without_the_value() -> None:
    done = run_cli("serve", "--accounts", "1001:a:s3cret-1,1001:b:s3cret-2", "--port", "0")
    assert done.returncode == 2
    assert done.stderr.strip() == "mock-hyber: bad configuration: accounts: Value error, " + (
        "client_id values must be unique"
    )
    assert "s3cret" not in done.stdout + done.stderr


# -- unknown variables -------------------------------------------------------------------------


def test_an_unknown_variable_is_named_with_the_close_setting_but_not_its_value() -> None:
    done = run_cli(
        "accounts",
        MOCK_HYBER_ACOUNTS="1:a:s3cret",
        MOCK_HYBER_SEED="4",
        MOCK_HYBER_NOTHING_LIKE_IT="s3cret",
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "mock-hyber: warning: unknown environment variable MOCK_HYBER_ACOUNTS is ignored"
        " (did you mean MOCK_HYBER_ACCOUNTS?)",
        "mock-hyber: warning: unknown environment variable MOCK_HYBER_NOTHING_LIKE_IT is ignored",
    ]
    assert "s3cret" not in done.stdout + done.stderr
    assert done.stdout.startswith("client_id=1001 ")  # the misspelt accounts did nothing


def test_known_variables_give_no_warning(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("seed: 1\n")
    done = run_cli("accounts", MOCK_HYBER_CONFIG=str(config), MOCK_HYBER_CLOCK_FROZEN="1")
    assert done.returncode == 0
    assert done.stderr == ""


# -- binding -----------------------------------------------------------------------------------


def test_a_busy_port_is_reported_before_any_listening_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("serve", "--port", str(port), "--log-level", "info")
    assert done.returncode == 3  # uvicorn's start-up failure
    assert "listening" not in done.stderr
    [error] = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert f"('127.0.0.1', {port}): address already in use" in error
    assert "Traceback" not in done.stderr


@pytest.fixture
def port_zero_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    err = tmp_path / "server.err"
    with err.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "mock_hyber", "serve", "--port", "0", "--log-level", "info"],
            env=clean_environment(),
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        yield process, err
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def test_port_zero_listens_on_a_free_port_and_says_which(
    port_zero_server: tuple[subprocess.Popen[bytes], Path],
) -> None:
    process, err = port_zero_server

    def listening() -> re.Match[str] | None:
        assert process.poll() is None, err.read_text()
        return re.search(r"listening on http://127\.0\.0\.1:(\d+)", err.read_text())

    port = int(wait_until(listening, timeout=45, what="the listening line").group(1))
    assert port != 0
    health = wait_until(
        lambda: _health(f"http://127.0.0.1:{port}/_mock/health"), timeout=30, what="health"
    )
    assert health["status"] == "ok"


def test_ctrl_c_stops_the_server_quietly_with_status_0(
    port_zero_server: tuple[subprocess.Popen[bytes], Path],
) -> None:
    process, err = port_zero_server
    match = wait_until(
        lambda: re.search(r"listening on (http://\S+)", err.read_text()), timeout=45, what="port"
    )
    wait_until(lambda: _health(f"{match.group(1)}/_mock/health"), timeout=30, what="health")
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    assert "Traceback" not in err.read_text()
    assert "Application shutdown complete" in err.read_text()


def _health(url: str) -> dict[str, object] | None:
    try:
        return httpx.get(url, timeout=2).json()
    except httpx.HTTPError:
        return None


# -- magic and accounts ------------------------------------------------------------------------


def test_magic_json_is_what_the_server_answers(
    server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["magic", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == httpx.get(f"{server.url}/_mock/magic").json()


def test_magic_table_has_every_number(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["magic"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [f"38000000000{n}" for n in range(1, 10)]
    assert lines[1].split()[1] == "fallback-after-ttl"


def test_accounts_never_prints_secrets(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts = [
        {"client_id": "7", "login": "shop", "password": "s3cret-pw"},
        {
            "client_id": "8",
            "login": "bank",
            "password": "s3cret-pw2",
            "callback_mode": "batched",
            "callback_hmac_secret": "s3cret-key",
        },
    ]
    env.setenv("MOCK_HYBER_ACCOUNTS", json.dumps(accounts))
    assert main(["accounts"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "client_id=7  login=shop",
        "client_id=8  login=bank  callback_mode=batched  callback_hmac_secret=(set)",
    ]
    assert "s3cret" not in out
