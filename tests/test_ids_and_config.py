"""Ids are seeded UUIDv5s, the same for the same seed and requests; Settings from the
environment, a YAML config file, and their order of precedence."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from mock_hyber.config import Account, Settings, load_settings
from mock_hyber.testing.server import LiveServer
from tests.bodies import batch_body, broadcast_body, is_v5_uuid, single_body
from tests.conftest import ACCOUNTS, ALICE, BOB

# -- ids -------------------------------------------------------------------------------------------


def job_ids(http: httpx.Client, base: str, auth: tuple[str, str]) -> dict[str, Any]:
    """Every id given by one single, one batch and one broadcast request, in order."""
    single = http.post(f"{base}", json=single_body(), auth=auth)
    batch = http.post(f"{base}/batch", json=batch_body(), auth=auth)
    broadcast = http.post(f"{base}/broadcast/sync", json=broadcast_body(), auth=auth)
    for response in (single, batch, broadcast):
        assert response.status_code == 200, response.text
    batch_id = batch.json()["job_id"]
    report = http.get(f"{base}/status/{batch_id}", auth=auth).json()["messages"]
    return {
        "single": single.json()["message_id"],
        "batch": batch_id,
        "batch_messages": [item["message_id"] for item in report],
        "broadcast_messages": [item["message_id"] for item in broadcast.json()["messages"]],
    }


def all_ids(ids: dict[str, Any]) -> list[str]:
    return [
        ids["single"],
        ids["batch"],
        *ids["batch_messages"],
        *ids["broadcast_messages"],
    ]


def reset(server: LiveServer) -> None:
    httpx.post(f"{server.url}/_mock/reset").raise_for_status()


@pytest.fixture(scope="module")
def seed7_server() -> Iterator[LiveServer]:
    with LiveServer(Settings(accounts=ACCOUNTS, seed=7, max_recipients=3)) as live:
        yield live


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def test_same_seed_reset_and_requests_give_the_same_ids(
    server: LiveServer, http: httpx.Client
) -> None:
    reset(server)
    first = job_ids(http, f"{server.url}/1001", ALICE)
    reset(server)
    second = job_ids(http, f"{server.url}/1001", ALICE)
    assert first == second


def test_ids_are_v5_uuids_and_all_different(server: LiveServer, http: httpx.Client) -> None:
    reset(server)
    ids = all_ids(job_ids(http, f"{server.url}/1001", ALICE))
    ids += all_ids(job_ids(http, f"{server.url}/1001", ALICE))  # no reset: new ids
    assert all(is_v5_uuid(value) for value in ids), ids
    assert len(set(ids)) == len(ids)


def test_another_account_gets_other_ids(server: LiveServer, http: httpx.Client) -> None:
    reset(server)
    alice = all_ids(job_ids(http, f"{server.url}/1001", ALICE))
    bob = all_ids(job_ids(http, f"{server.url}/1002", BOB))
    assert not set(alice) & set(bob)


def test_resetting_one_account_leaves_the_other(server: LiveServer, http: httpx.Client) -> None:
    reset(server)
    bob_first = all_ids(job_ids(http, f"{server.url}/1002", BOB))
    http.post(f"{server.url}/_mock/reset?client_id=1001").raise_for_status()
    bob_second = all_ids(job_ids(http, f"{server.url}/1002", BOB))
    assert not set(bob_first) & set(bob_second)
    assert http.get(f"{server.url}/1002/status/{bob_first[1]}", auth=BOB).status_code == 200


def test_a_different_seed_gives_different_ids(
    server: LiveServer, seed7_server: LiveServer, http: httpx.Client
) -> None:
    reset(server)
    reset(seed7_server)
    ids_42 = all_ids(job_ids(http, f"{server.url}/1001", ALICE))
    ids_7 = all_ids(job_ids(http, f"{seed7_server.url}/1001", ALICE))
    assert all(is_v5_uuid(value) for value in ids_7)
    assert not set(ids_42) & set(ids_7)
    health = http.get(f"{seed7_server.url}/_mock/health").json()
    assert health["seed"] == 7


def test_another_server_with_the_same_seed_gives_the_same_ids(
    server: LiveServer, http: httpx.Client
) -> None:
    reset(server)
    ids = job_ids(http, f"{server.url}/1001", ALICE)
    with LiveServer(Settings(accounts=ACCOUNTS, seed=42)) as twin:
        assert job_ids(http, f"{twin.url}/1001", ALICE) == ids


def test_max_recipients_is_configurable(seed7_server: LiveServer, http: httpx.Client) -> None:
    body = batch_body()
    body["messages"] = body["messages"] * 2  # 4 recipients, at most 3
    response = http.post(f"{seed7_server.url}/1001/batch", json=body, auth=ALICE)
    assert response.status_code == 400
    assert response.json()["error_code"] == 11006
    body["messages"] = body["messages"][:3]
    assert http.post(f"{seed7_server.url}/1001/batch", json=body, auth=ALICE).status_code == 200


# -- config ----------------------------------------------------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No MOCK_HYBER_* variable set, whatever the shell running the tests has."""
    for name in list(os.environ):
        if name.upper().startswith("MOCK_HYBER_"):
            monkeypatch.delenv(name)
    return monkeypatch


def accounts(settings: Settings) -> list[tuple[str, str, str]]:
    return [(a.client_id, a.login, a.password) for a in settings.accounts]


def test_default_account(env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert accounts(settings) == [("1001", "hyber", "hyber")]
    assert settings.seed is None
    assert settings.max_recipients == 50_000
    assert settings.template_missing == "keep"


def test_accounts_compact_form(env: pytest.MonkeyPatch) -> None:
    env.setenv("MOCK_HYBER_ACCOUNTS", " 1001:alice:secret , 22:bob:pa:ss:word ,")
    assert accounts(Settings()) == [("1001", "alice", "secret"), ("22", "bob", "pa:ss:word")]


def test_accounts_json_form(env: pytest.MonkeyPatch) -> None:
    env.setenv(
        "MOCK_HYBER_ACCOUNTS",
        '[{"client_id": "208", "login": "x", "password": "y"},'
        ' {"client_id": "790", "login": "z", "password": "w"}]',
    )
    assert accounts(Settings()) == [("208", "x", "y"), ("790", "z", "w")]


@pytest.mark.parametrize(
    "value",
    [
        "1001:a:b,1001:c:d",
        '[{"client_id": "5", "login": "a", "password": "b"},'
        ' {"client_id": "5", "login": "c", "password": "d"}]',
    ],
    ids=["compact", "json"],
)
def test_duplicate_client_ids_are_refused(env: pytest.MonkeyPatch, value: str) -> None:
    env.setenv("MOCK_HYBER_ACCOUNTS", value)
    with pytest.raises(ValidationError, match="unique"):
        Settings()


@pytest.mark.parametrize(
    "value",
    [
        "1001:alice",
        "1001",
        "abc:alice:secret",
        "+1001:alice:secret",
        "1001::secret",
        "1001:alice:",
        "",
        ",",
        "[not json",
        '[{"client_id": "1001", "login": "a"}]',
        '[{"client_id": "1001", "login": "a", "password": "b", "role": "admin"}]',
        "[]",
    ],
)
def test_malformed_accounts_are_refused(env: pytest.MonkeyPatch, value: str) -> None:
    env.setenv("MOCK_HYBER_ACCOUNTS", value)
    with pytest.raises(ValidationError):
        Settings()


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mock-hyber.yaml"
    path.write_text(text, encoding="utf-8")
    return path


CONFIG = """\
seed: 9
max_recipients: 10
template_missing: reject
accounts:
  - {client_id: "3233", login: carol, password: "pw1"}
  - client_id: "2157"
    login: dave
    password: "pw2"
"""


def test_yaml_config_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("MOCK_HYBER_CONFIG", str(write_config(tmp_path, CONFIG)))
    settings = Settings()
    assert accounts(settings) == [("3233", "carol", "pw1"), ("2157", "dave", "pw2")]
    assert settings.seed == 9
    assert settings.max_recipients == 10
    assert settings.template_missing == "reject"


def test_environment_beats_the_config_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("MOCK_HYBER_CONFIG", str(write_config(tmp_path, CONFIG)))
    env.setenv("MOCK_HYBER_SEED", "11")
    env.setenv("MOCK_HYBER_ACCOUNTS", "1:eve:pw")
    settings = Settings()
    assert settings.seed == 11
    assert accounts(settings) == [("1", "eve", "pw")]
    assert settings.max_recipients == 10  # still from the file


def test_arguments_beat_the_environment(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("MOCK_HYBER_CONFIG", str(write_config(tmp_path, CONFIG)))
    env.setenv("MOCK_HYBER_SEED", "11")
    assert Settings(seed=12).seed == 12


def test_compact_accounts_inside_the_config_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("MOCK_HYBER_CONFIG", str(write_config(tmp_path, 'accounts: "5:a:b,6:c:d"\n')))
    assert accounts(Settings()) == [("5", "a", "b"), ("6", "c", "d")]


def test_json_config_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"seed": 3, "accounts": [{"client_id": "7", "login": "j", "password": "k"}]}')
    env.setenv("MOCK_HYBER_CONFIG", str(path))
    settings = Settings()
    assert settings.seed == 3
    assert accounts(settings) == [("7", "j", "k")]


def test_a_config_file_that_is_not_a_mapping(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("MOCK_HYBER_CONFIG", str(write_config(tmp_path, "- just\n- a list\n")))
    with pytest.raises(ValueError, match="mapping"):
        Settings()


def test_an_empty_config_file_means_defaults(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("MOCK_HYBER_CONFIG", str(write_config(tmp_path, "")))
    assert accounts(Settings()) == [("1001", "hyber", "hyber")]


def test_yaml_numbers_for_client_id_and_password(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = "accounts:\n  - {client_id: 1001, login: alice, password: 1234}\n"
    env.setenv("MOCK_HYBER_CONFIG", str(write_config(tmp_path, text)))
    assert accounts(Settings()) == [("1001", "alice", "1234")]


def test_load_settings_leaves_the_environment_alone(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = dict(os.environ)
    settings = load_settings(write_config(tmp_path, CONFIG), port=9)
    assert (settings.seed, settings.port) == (9, 9)
    assert dict(os.environ) == before
    assert Settings().seed is None  # the file was for that one call


def test_a_named_config_file_beats_the_variable(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("MOCK_HYBER_CONFIG", str(write_config(tmp_path, CONFIG)))
    other = tmp_path / "other.json"
    other.write_text('{"seed": 4}')
    assert load_settings(other).seed == 4


def test_values_are_read_as_environment_variables_are(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    values = {
        "accounts": "5:a:b,6:c:d",
        "callback_allowed_hosts": "a.example.com, *.b.example.com",
        "clock_frozen": "true",
        "clock_speed": "2.5",
    }
    settings = load_settings(values=values)
    assert accounts(settings) == [("5", "a", "b"), ("6", "c", "d")]
    assert settings.callback_allowed_hosts == ["a.example.com", "*.b.example.com"]
    assert (settings.clock_frozen, settings.clock_speed) == (True, 2.5)


def test_arguments_beat_values_beat_environment_beats_file(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env.setenv("MOCK_HYBER_SEED", "11")
    env.setenv("MOCK_HYBER_CLOCK_SPEED", "3")
    path = write_config(tmp_path, CONFIG + "clock_speed: 4\nport: 1234\n")
    settings = load_settings(path, values={"seed": "12", "port": "1235"}, port=1236)
    assert (settings.seed, settings.port, settings.clock_speed) == (12, 1236, 3.0)
    assert settings.max_recipients == 10  # only in the file


def test_a_missing_config_file_is_an_error(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load_settings(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("bad.yaml", "accounts:\n  - {client_id: 1, login: a, password: s3cret\n", "YAML"),
        ("bad.json", '{"accounts": "1:a:s3cret",', "Expecting"),
        ("list.json", '["1:a:s3cret"]', "mapping"),
    ],
)
def test_a_broken_config_file_is_named_without_its_content(
    env: pytest.MonkeyPatch, tmp_path: Path, name: str, text: str, problem: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=problem) as caught:
        load_settings(path)
    assert "s3cret" not in str(caught.value)


def test_accounts_from_the_environment_guard_the_server(env: pytest.MonkeyPatch) -> None:
    env.setenv("MOCK_HYBER_ACCOUNTS", "4242:zed:zpw")
    env.setenv("MOCK_HYBER_SEED", "5")
    settings = Settings()
    env.delenv("MOCK_HYBER_ACCOUNTS")
    with LiveServer(settings) as live, httpx.Client(base_url=live.url, timeout=10) as http:
        assert http.post("/4242/batch", json=batch_body(), auth=("zed", "zpw")).status_code == 200
        assert (
            http.post("/4242/batch", json=batch_body(), auth=("hyber", "hyber")).status_code == 401
        )
        assert (
            http.post("/1001/batch", json=batch_body(), auth=("hyber", "hyber")).status_code == 401
        )
        assert http.get("/_mock/health").json()["accounts"] == ["4242"]


def test_account_model_checks() -> None:
    assert Account(client_id="1", login="a", password="b").client_id == "1"
    with pytest.raises(ValidationError):
        Account(client_id="1" * 21, login="a", password="b")


def test_a_custom_codes_file_stays_with_its_own_server(tmp_path: Path) -> None:
    """The catalogue belongs to the backend: a server started with `codes_file` answers its
    texts, and a server started after it (same process) still answers the built-in ones."""
    import mock_hyber.engine
    from mock_hyber.codes import builtin_catalogue

    builtin = Path(mock_hyber.engine.__file__).with_name("data") / "codes.yaml"
    text = builtin.read_text(encoding="utf-8")
    custom = tmp_path / "codes.yaml"
    custom.write_text(text.replace('"Job not found"', '"Kampania nie znaleziona"'))
    auth = ("alice", "secret")
    with LiveServer(Settings(accounts="1001:alice:secret", codes_file=custom)) as first:
        answer = httpx.get(f"{first.url}/1001/status/nope", auth=auth)
        assert answer.json() == {"error_code": 11008, "error_text": "Kampania nie znaleziona: nope"}
    with LiveServer(Settings(accounts="1001:alice:secret")) as second:
        answer = httpx.get(f"{second.url}/1001/status/nope", auth=auth)
        assert answer.json() == {"error_code": 11008, "error_text": "Job not found: nope"}
        assert httpx.get(f"{second.url}/_mock/codes").json() == builtin_catalogue().as_dict()
