"""The pytest plugin (entry point `pytest11: mock_hyber`), loaded when mock-hyber is installed.

Fixtures:
- `mock_hyber_server` (function): the live server of this test's settings (`.url`). The plugin
  starts one server per distinct settings, on 127.0.0.1 and a free port, on first use, and
  keeps it for the session (per pytest-xdist worker: each worker has its own servers); with
  `--mock-hyber-url`, an already running server instead.
- `mock_hyber_settings` (session): the Settings of the server; override it in a conftest.py
  for other accounts or options: the override applies to the tests under that conftest's
  folder only (they get a server of their own).
- `mock_hyber` (function): a `MockHyberClient` of the account, reset before and after each test,
  with the runtime settings of the test's `mock_hyber` marker applied; errors the server logged
  during the test (a bug of the mock) fail the test at teardown.
- `callback_receiver` (function): a started `CallbackReceiver`; stopped and `check()`ed at
  teardown.

Marker: `@pytest.mark.mock_hyber(callback_mode="batched", seed=7)` (on a test, a class, or a
module's `pytestmark`; the closest wins key by key) sets any Settings key for those tests. The
account's callback options (config.ACCOUNT_OPTIONS: callback mode, batching, number type,
inbound_url, retries...) are applied at runtime to the `mock_hyber` account, through
`PATCH /_mock/settings`, and undone by the reset after the test; any other key (seed, clock,
accounts, store...) can only be taken at a server's start, so the test gets the server of those
settings (started on first use, shared with the tests that ask for the same).

Options (command line, or the ini key in brackets):
- `--mock-hyber-seed N` [mock_hyber_seed], default 1234: the seed of ids, outcomes and faults.
- `--mock-hyber-frozen` / `--no-mock-hyber-frozen` [mock_hyber_frozen], default frozen: a
  frozen clock moves only when a test advances it, so tests are deterministic and never wait.
- `--mock-hyber-speed X` [mock_hyber_speed], default 1.0: virtual seconds per real second
  when the clock is not frozen.
- `--mock-hyber-clock-start ISO` [mock_hyber_clock_start], default now: the clock's start.
- `--mock-hyber-account ID:LOGIN:PASSWORD` [mock_hyber_account]: the server's account (and
  the client's); default: the first account of the settings (1001:hyber:hyber). A folder's
  settings without that account: the client uses their first account.
- `--mock-hyber-url URL` [mock_hyber_url]: use that server (its own seed and settings; the
  clock options are applied to the account at each reset).
- `--mock-hyber-admin-token TOKEN` [mock_hyber_admin_token]: the control API's token, for a
  server that has one (a started server uses its settings' `admin_token`).

Only this module imports pytest; the server and the client never do.
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from mock_hyber.config import ACCOUNT_OPTIONS, AccountOptions, Settings
from mock_hyber.testing.client import MockHyberClient
from mock_hyber.testing.receiver import CallbackReceiver

if TYPE_CHECKING:
    from mock_hyber.testing.server import LiveServer, ServerPool

DEFAULT_SEED = 1234
DEFAULT_ACCOUNT = "1001:hyber:hyber"
WATCHED_LOGGERS = ("mock_hyber", "uvicorn.error")
MARKER = "mock_hyber"
FIXED_KEYS = frozenset({"host", "port"})  # the plugin's servers: 127.0.0.1, a free port


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**settings): mock_hyber settings of these tests (callback options at "
        "runtime, other keys on a server of their own)",
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mock-hyber", "mock_hyber (GMS Hyber API simulator)")

    def option(name: str, help: str, **kwargs: Any) -> None:
        group.addoption(
            f"--mock-hyber-{name}",
            dest=f"mock_hyber_{name.replace('-', '_')}",
            default=None,
            help=help,
            **kwargs,
        )

    option("seed", "seed of ids, outcomes and faults (default 1234)", type=int)
    option("speed", "virtual seconds per real second when not frozen (default 1.0)", type=float)
    option(
        "frozen",
        "start with a frozen clock (the default): it moves only on advance()",
        action=argparse.BooleanOptionalAction,
    )
    option("clock-start", "the virtual clock's start, ISO 8601 (default: now)")
    option("account", "the account CLIENT_ID:LOGIN:PASSWORD (default 1001:hyber:hyber)")
    option("url", "use this running mock_hyber server instead of starting one")
    option("admin-token", "the admin token of that server's control API, if it has one")
    parser.addini("mock_hyber_seed", "mock_hyber seed (default 1234)", default=str(DEFAULT_SEED))
    parser.addini("mock_hyber_speed", "mock_hyber clock speed (default 1.0)", default="1.0")
    parser.addini(
        "mock_hyber_frozen", "mock_hyber frozen clock (default true)", type="bool", default=True
    )
    parser.addini("mock_hyber_clock_start", "mock_hyber clock start (default now)", default="")
    parser.addini("mock_hyber_account", "mock_hyber account ID:LOGIN:PASSWORD", default="")
    parser.addini("mock_hyber_url", "a running mock_hyber server to use", default="")
    parser.addini("mock_hyber_admin_token", "its admin token", default="")


@dataclass(frozen=True)
class Options:
    seed: int
    speed: float
    frozen: bool
    clock_start: str | None
    account: tuple[str, str, str] | None  # None: the server's first account
    url: str | None
    admin_token: str | None

    @classmethod
    def of(cls, config: pytest.Config) -> Options:
        def pick(name: str) -> Any:
            value = config.getoption(f"mock_hyber_{name}")
            return config.getini(f"mock_hyber_{name}") if value is None else value

        account = str(pick("account"))
        parts = account.split(":", 2) if account else None
        if parts is not None and (len(parts) != 3 or not all(parts)):
            raise pytest.UsageError(f"--mock-hyber-account {account!r}: not ID:LOGIN:PASSWORD")
        return cls(
            seed=int(pick("seed")),
            speed=float(pick("speed")),
            frozen=bool(pick("frozen")),
            clock_start=str(pick("clock_start")) or None,
            account=(parts[0], parts[1], parts[2]) if parts else None,
            url=str(pick("url")) or None,
            admin_token=str(pick("admin_token")) or None,
        )


def pytest_report_header(config: pytest.Config) -> str:
    options = Options.of(config)
    clock = "frozen" if options.frozen else f"running x{options.speed:g}"
    if options.url:
        return f"mock_hyber: {options.url} (its own seed and settings), clock {clock}"
    where = "a live server per session (per xdist worker and distinct settings)"
    return f"mock_hyber: {where}, seed {options.seed}, clock {clock}"


@dataclass(frozen=True)
class RemoteServer:
    """A mock_hyber server the plugin did not start (`--mock-hyber-url`)."""

    url: str


class _ErrorLog(logging.Handler):
    """Collects the errors the in-process server logs while one test runs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self._lock_records = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock_records:
            self.records.append(record)

    def lines(self) -> list[str]:
        formatter = logging.Formatter("%(name)s: %(message)s")
        with self._lock_records:
            return [formatter.format(record) for record in self.records]


@pytest.fixture(scope="session")
def mock_hyber_options(pytestconfig: pytest.Config) -> Options:
    """The plugin's options, from the command line and the ini file."""
    return Options.of(pytestconfig)


@pytest.fixture(scope="session")
def mock_hyber_settings(mock_hyber_options: Options) -> Settings:
    """The settings the plugin's servers start with, from its options. Override this fixture
    in a folder's conftest.py: the tests under that folder get a server of those settings."""
    options = mock_hyber_options
    values: dict[str, Any] = {
        "seed": options.seed,
        "clock_speed": options.speed,
        "clock_frozen": options.frozen,
        "log_level": "warning",
    }
    if options.account:
        values["accounts"] = ":".join(options.account)
    if options.clock_start:
        values["clock_start"] = options.clock_start
    return Settings(**values)


@dataclass(frozen=True)
class Overrides:
    """A test's `mock_hyber` markers: keys a server takes at start-up, and runtime options."""

    startup: dict[str, Any]
    runtime: dict[str, Any]


def _overrides(node: pytest.Item) -> Overrides:
    values: dict[str, Any] = {}
    for mark in reversed(list(node.iter_markers(MARKER))):  # the farthest first: closest wins
        if mark.args:
            pytest.fail(f"@pytest.mark.{MARKER} takes keyword arguments only", pytrace=False)
        values.update(mark.kwargs)
    unknown = sorted(set(values) - set(Settings.model_fields) | (set(values) & FIXED_KEYS))
    if unknown:
        pytest.fail(
            f"@pytest.mark.{MARKER}: unknown or fixed setting(s) {', '.join(unknown)}"
            " (any key of mock_hyber.Settings but host and port)",
            pytrace=False,
        )
    runtime = {key: value for key, value in values.items() if key in ACCOUNT_OPTIONS}
    try:
        AccountOptions.model_validate(runtime)
    except ValidationError as exc:
        pytest.fail(f"@pytest.mark.{MARKER}: {_first_error(exc)}", pytrace=False)
    startup = {key: value for key, value in values.items() if key not in runtime}
    return Overrides(startup, runtime)


def _first_error(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    return f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"


def _with_startup(settings: Settings, startup: dict[str, Any]) -> Settings:
    """`settings` with the marker's start-up keys, validated as a whole (no environment)."""
    try:
        return Settings.model_validate({**settings.model_dump(), **startup})
    except ValidationError as exc:
        pytest.fail(f"@pytest.mark.{MARKER}: {_first_error(exc)}", pytrace=False)


@pytest.fixture
def _mock_hyber_overrides(request: pytest.FixtureRequest) -> Overrides:
    return _overrides(request.node)


@pytest.fixture(scope="session")
def _mock_hyber_pool() -> Iterator[ServerPool]:
    from mock_hyber.testing.server import ServerPool  # the server loads only when used

    pool = ServerPool()
    try:
        yield pool
    finally:
        pool.stop()


@pytest.fixture
def mock_hyber_server(
    request: pytest.FixtureRequest,
    mock_hyber_options: Options,
    mock_hyber_settings: Settings,
    _mock_hyber_overrides: Overrides,
) -> LiveServer | RemoteServer:
    """This test's server (`.url`): the one of its settings (its folder's `mock_hyber_settings`
    and its marker's start-up keys), or the one named by --mock-hyber-url."""
    startup = _mock_hyber_overrides.startup
    if mock_hyber_options.url:
        if startup:
            pytest.fail(
                f"@pytest.mark.{MARKER}({', '.join(sorted(startup))}=...): these settings are"
                " taken at a server's start, and --mock-hyber-url names a running server",
                pytrace=False,
            )
        return RemoteServer(mock_hyber_options.url.rstrip("/"))
    settings = _with_startup(mock_hyber_settings, startup) if startup else mock_hyber_settings
    pool: ServerPool = request.getfixturevalue("_mock_hyber_pool")
    return pool.get(settings)


@pytest.fixture
def mock_hyber(
    mock_hyber_server: LiveServer | RemoteServer,
    mock_hyber_options: Options,
    _mock_hyber_overrides: Overrides,
) -> Iterator[MockHyberClient]:
    """A client of the account, reset before and after the test, with the runtime settings of
    the test's marker; errors the server logged during the test fail it at teardown."""
    options = mock_hyber_options
    account = options.account or tuple(DEFAULT_ACCOUNT.split(":"))
    token = options.admin_token
    if not isinstance(mock_hyber_server, RemoteServer):
        # --mock-hyber-account when this server has it (a folder's settings may not).
        known = {(a.client_id, a.login, a.password) for a in mock_hyber_server.settings.accounts}
        first = mock_hyber_server.settings.accounts[0]
        if options.account not in known:
            account = (first.client_id, first.login, first.password)
        token = token or mock_hyber_server.settings.admin_token
    client_id, login, password = account
    client = MockHyberClient(mock_hyber_server.url, client_id, login, password, admin_token=token)
    client.reset()
    if isinstance(mock_hyber_server, RemoteServer):
        # Its start-up clock is its own: apply this session's clock options to the account.
        client.set_speed(options.speed)
        if options.frozen:
            client.freeze()
        else:
            client.resume()
    if _mock_hyber_overrides.runtime:
        client.update_settings(**_mock_hyber_overrides.runtime)
    errors = _ErrorLog()
    loggers = [logging.getLogger(name) for name in WATCHED_LOGGERS]
    for logger in loggers:
        logger.addHandler(errors)
    try:
        yield client
        problems = errors.lines()
        try:
            client.health()
            if not isinstance(mock_hyber_server, RemoteServer):
                # What the test changed (data, settings) stays with it; a running server
                # keeps the last test's state, to be looked at after the run.
                client.reset()
        except Exception as exc:  # the server stopped answering during the test
            problems.append(f"the mock_hyber server does not answer: {exc!r}")
    finally:
        for logger in loggers:
            logger.removeHandler(errors)
        client.close()
    if problems:
        pytest.fail(
            "mock_hyber had errors during this test (a bug in the mock, please report it):\n"
            + "\n".join(problems),
            pytrace=False,
        )


@pytest.fixture
def callback_receiver(request: pytest.FixtureRequest) -> Iterator[CallbackReceiver]:
    """A started CallbackReceiver (`.url` for callback_url); stopped and checked at teardown.
    In a test that uses `mock_hyber`, its timeouts explain that account's clock."""
    receiver = CallbackReceiver().start()
    if "mock_hyber" in request.fixturenames:
        receiver.watch(request.getfixturevalue("mock_hyber"))
    try:
        yield receiver
    finally:
        receiver.stop()
    receiver.check()
