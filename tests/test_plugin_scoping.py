"""Per-folder and per-test settings in the pytest plugin: a user's project whose folders and
markers ask for different settings, run by pytester plainly and on 2 xdist workers; each test
asserts the behaviour of its own settings, so any leak between them fails a test."""

from __future__ import annotations

import pytest

from mock_hyber import Settings
from mock_hyber.testing.server import ServerPool

pytest_plugins = ["pytester"]

INI = """
[pytest]
filterwarnings = error
addopts = -p no:cacheprovider -p no:randomly
"""

# Two messages whose first channel delivers after 1 s (magic numbers): batched mode POSTs one
# array of both reports, single mode one object per report.
ROOT_CONFTEST = """
import httpx
import pytest

BODY = {
    "messages": [{"phone_number": "380000000001"}, {"phone_number": "380000000006"}],
    "channels": ["viber", "sms"],
    "channel_options": {
        "viber": {"text": "Hi", "ttl": 60},
        "sms": {"text": "Hi", "alpha_name": "Shop", "ttl": 300},
    },
}

@pytest.fixture
def posts(mock_hyber, callback_receiver):
    '''What the callbacks of two delivered messages look like: one JSON type per POST.'''
    def run():
        mock_hyber.send_batch({**BODY, "callback_url": callback_receiver.url})
        mock_hyber.advance(30)
        callback_receiver.wait_for(2, timeout=5)
        return [type(request.body).__name__ for request in callback_receiver.requests]
    return run

@pytest.fixture
def mode_in_force(mock_hyber_server):
    '''The callback mode of the server's first account, straight from its control API.'''
    def read():
        answer = httpx.get(mock_hyber_server.url + "/_mock/settings").json()["settings"]
        return next(iter(answer.values()))["callback_mode"]
    return read
"""

BATCHED_CONFTEST = """
import pytest
from mock_hyber import Settings

@pytest.fixture(scope="session")
def mock_hyber_settings():
    return Settings(seed=1234, clock_frozen=True, callback_mode="batched",
                    callback_batch_period=1, log_level="warning")
"""

FOLDER_TESTS = """
def test_{folder}_{n}(posts, mock_hyber):
    assert posts() == {expected}
    assert mock_hyber.settings().callback_mode == "{mode}"
"""

MARKED_TESTS = """
import pytest

pytestmark = pytest.mark.mock_hyber(callback_mode="batched", callback_batch_period=1)

def test_module_marker(posts):
    assert posts() == ["list"]

@pytest.mark.mock_hyber(seed=7)
def test_a_start_up_key_gets_its_own_server(posts, mock_hyber, mock_hyber_server):
    assert mock_hyber.health().seed == 7 == mock_hyber_server.settings.seed
    assert posts() == ["list"]  # the module's runtime keys still apply

def test_the_default_seed_otherwise(mock_hyber):
    assert mock_hyber.health().seed == 1234

@pytest.mark.mock_hyber(callback_mode="single")
class TestClassMarker:
    def test_the_closest_marker_wins(self, posts):
        assert posts() == ["dict", "dict"]

    @pytest.mark.mock_hyber(callback_number_type="string")
    def test_keys_merge(self, mock_hyber, callback_receiver, posts):
        assert posts() == ["dict", "dict"]
        assert all(isinstance(r["number"], str) for r in callback_receiver.reports)
"""

AFTER_MARKED_TESTS = """
def test_the_server_is_back_to_its_settings_after_a_marked_test(mode_in_force):
    assert mode_in_force() == "single"  # without the reset of a mock_hyber fixture

def test_no_marker_no_change(posts):
    assert posts() == ["dict", "dict"]
"""


def make_project(pytester: pytest.Pytester, copies: int = 4, markers: bool = True) -> None:
    """batched/ (a conftest.py override) and single/ (the defaults), each with `copies` test
    files; with `markers`, single/ also has marked tests, and tests that follow them."""
    pytester.makeini(INI)
    pytester.makeconftest(ROOT_CONFTEST)
    batched = pytester.mkdir("batched")
    (batched / "conftest.py").write_text(BATCHED_CONFTEST)
    single = pytester.mkdir("single")
    for n in range(copies):
        (batched / f"test_b{n}.py").write_text(
            FOLDER_TESTS.format(folder="batched", n=n, expected=["list"], mode="batched")
        )
        (single / f"test_s{n}.py").write_text(
            FOLDER_TESTS.format(folder="single", n=n, expected=["dict", "dict"], mode="single")
        )
    if markers:
        (single / "test_s_marked.py").write_text(MARKED_TESTS)
        (single / "test_s_marked_then.py").write_text(AFTER_MARKED_TESTS)


def outcomes(copies: int, markers: bool = True) -> dict[str, int]:
    return {"passed": 2 * copies + (7 if markers else 0)}


def test_a_folders_settings_stay_in_that_folder(pytester: pytest.Pytester) -> None:
    make_project(pytester, markers=False)
    result = pytester.runpytest_subprocess(timeout=120)
    result.assert_outcomes(**outcomes(4, markers=False))


def test_markers_do_not_leak(pytester: pytest.Pytester) -> None:
    make_project(pytester, copies=1)
    result = pytester.runpytest_subprocess(timeout=120)
    result.assert_outcomes(**outcomes(1))


def test_no_leak_on_two_xdist_workers(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    make_project(pytester, copies=6)
    result = pytester.runpytest_subprocess("-n", "2", timeout=120)
    result.assert_outcomes(**outcomes(6))


def test_the_folders_in_the_other_order(pytester: pytest.Pytester) -> None:
    """The defaults' folder runs first: the override is not lost either."""
    make_project(pytester, copies=2, markers=False)
    result = pytester.runpytest_subprocess("single", "batched", timeout=120)
    result.assert_outcomes(**outcomes(2, markers=False))


def test_a_folders_accounts_beat_the_command_line_account(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    shop = pytester.mkdir("shop")
    (shop / "conftest.py").write_text(
        """
import pytest
from mock_hyber import Settings

@pytest.fixture(scope="session")
def mock_hyber_settings():
    return Settings(accounts="2001:shop:pw", seed=1, clock_frozen=True, log_level="warning")
"""
    )
    (shop / "test_shop.py").write_text(
        """
def test_the_folders_account(mock_hyber):
    assert mock_hyber.client_id == "2001"
    mock_hyber.send_single({"phone_number": "380000000001", "channels": ["sms"],
        "channel_options": {"sms": {"text": "Hi", "alpha_name": "Shop", "ttl": 300}}})
"""
    )
    pytester.makepyfile(
        test_root="""
def test_the_command_line_account(mock_hyber):
    assert (mock_hyber.client_id, mock_hyber.health().seed) == ("3003", 1234)
"""
    )
    result = pytester.runpytest_subprocess("--mock-hyber-account=3003:x:y", timeout=120)
    result.assert_outcomes(passed=2)


def test_bad_markers_fail_their_test_with_a_reason(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        """
import pytest

@pytest.mark.mock_hyber(callback_mod="batched")
def test_misspelled(mock_hyber):
    pass

@pytest.mark.mock_hyber(callback_batch_size=0)
def test_bad_runtime_value(mock_hyber):
    pass

@pytest.mark.mock_hyber(seed="seven")
def test_bad_start_up_value(mock_hyber):
    pass

@pytest.mark.mock_hyber(port=80)
def test_fixed(mock_hyber):
    pass

@pytest.mark.mock_hyber("batched")
def test_positional(mock_hyber):
    pass

def test_fine(mock_hyber):
    assert mock_hyber.settings().callback_batch_size == 100
"""
    )
    result = pytester.runpytest_subprocess(timeout=120)
    result.assert_outcomes(passed=1, errors=5)
    result.stdout.fnmatch_lines_random(
        [
            "*unknown or fixed setting(s) callback_mod*",
            "*callback_batch_size: Input should be greater than or equal to 1*",
            "*seed: Input should be a valid integer*",
            "*unknown or fixed setting(s) port*",
            "*takes keyword arguments only*",
        ]
    )


def test_start_up_keys_need_a_server_the_plugin_starts(pytester: pytest.Pytester) -> None:
    from mock_hyber import LiveServer

    with LiveServer(Settings(seed=5, log_level="warning")) as server:
        pytester.makeini(INI)
        pytester.makepyfile(
            """
import pytest

@pytest.mark.mock_hyber(seed=7)
def test_seed(mock_hyber):
    pass

@pytest.mark.mock_hyber(callback_mode="batched")
def test_runtime_key(mock_hyber):
    assert mock_hyber.settings().callback_mode == "batched"
"""
        )
        result = pytester.runpytest_subprocess(f"--mock-hyber-url={server.url}", timeout=120)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*mock_hyber(seed=...): these settings are taken at a server*"])


def test_the_pool_shares_a_server_between_equal_settings() -> None:
    pool = ServerPool()
    try:
        first = pool.get(Settings(seed=1, log_level="warning"))
        assert pool.get(Settings(seed=1, log_level="warning")) is first
        assert pool.get(Settings(seed=2, log_level="warning")) is not first
        assert len(pool) == 2
    finally:
        pool.stop()
