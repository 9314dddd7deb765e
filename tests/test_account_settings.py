"""An account's callback settings changed at runtime (`GET/PATCH /_mock/settings`), over HTTP:
what they change and from when, what a refusal leaves, and that a reset restores them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from mock_hyber.callbacks.signing import SIGNATURE_HEADER
from mock_hyber.config import Settings
from mock_hyber.testing import (
    AsyncMockHyberClient,
    CallbackReceiver,
    LiveServer,
    MockHyberClient,
    MockHyberError,
)

DELIVERED = "380000000001"  # magic: the first channel delivers after 1 s
NOT_A_USER = "380000000005"  # magic: the first channel fails after 1 s, the next delivers 2 s on
VIBER_SMS = {
    "viber": {"text": "Hello", "ttl": 60},
    "sms": {"text": "Hello", "alpha_name": "Shop", "ttl": 300},
}


def batch(callback_url: str, *phones: str) -> dict[str, object]:
    return {
        "messages": [{"phone_number": phone} for phone in phones],
        "channels": ["viber", "sms"],
        "channel_options": VIBER_SMS,
        "callback_url": callback_url,
    }


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    settings = Settings(
        accounts=[
            {"client_id": "1001", "login": "alice", "password": "pw"},
            {"client_id": "1002", "login": "bob", "password": "pw", "callback_batch_size": 7},
        ],
        seed=5,
        clock_frozen=True,
        callback_jitter=0,
        log_level="warning",
    )
    with LiveServer(settings) as live:
        yield live


@pytest.fixture
def alice(server: LiveServer) -> Iterator[MockHyberClient]:
    with MockHyberClient(server.url, "1001", "alice", "pw") as client:
        client.reset(all_accounts=True)
        yield client


@pytest.fixture
def bob(server: LiveServer) -> Iterator[MockHyberClient]:
    with MockHyberClient(server.url, "1002", "bob", "pw") as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as receiver:
        yield receiver
    receiver.check()


def test_the_settings_in_force_start_as_configured(
    alice: MockHyberClient, bob: MockHyberClient
) -> None:
    mine = alice.settings()
    assert (mine.callback_mode, mine.callback_batch_size, mine.callback_jitter) == (
        "single",
        100,
        0,
    )
    assert (mine.callback_max_attempts, mine.callback_backoff, mine.inbound_url) == (5, 10, None)
    assert bob.settings().callback_batch_size == 7  # the account's own option wins


def test_batched_mode_from_now_on_and_a_reset_restores_single(
    alice: MockHyberClient, receiver: CallbackReceiver
) -> None:
    changed = alice.update_settings(callback_mode="batched", callback_batch_period=2)
    assert (changed.callback_mode, changed.callback_batch_period) == ("batched", 2)
    alice.send_batch(batch(receiver.url, DELIVERED, NOT_A_USER))
    alice.advance(10)
    [request] = receiver.wait_for(1, requests=True)
    assert isinstance(request.body, list) and len(request.body) == 2
    assert all(isinstance(report["number"], str) for report in request.body)  # auto: batched

    alice.reset()
    receiver.clear()
    assert alice.settings().callback_mode == "single"
    alice.send_batch(batch(receiver.url, DELIVERED, NOT_A_USER))
    alice.advance(10)
    requests = receiver.wait_for(2, requests=True)
    assert [type(request.body) for request in requests] == [dict, dict]


def test_a_batch_open_at_a_switch_to_single_still_leaves_at_its_time(
    alice: MockHyberClient, receiver: CallbackReceiver
) -> None:
    alice.update_settings(callback_mode="batched", callback_batch_period=10)
    alice.send_batch(batch(receiver.url, DELIVERED))
    alice.advance(2)  # its report waits in a batch until 11 s
    assert receiver.requests == []
    alice.update_settings(callback_mode="single")
    alice.send_batch(batch(receiver.url, DELIVERED))  # reported at 3 s, on its own
    alice.advance(2)
    [single] = receiver.wait_for(1, requests=True)
    assert isinstance(single.body, dict)
    alice.advance(10)
    requests = receiver.wait_for(2, requests=True)
    assert isinstance(requests[1].body, list) and len(requests[1].body) == 1


def test_a_change_is_the_named_accounts_only(alice: MockHyberClient, bob: MockHyberClient) -> None:
    alice.update_settings(callback_mode="batched")
    assert bob.settings().callback_mode == "single"


def test_number_type_and_signature_apply_to_reports_from_now_on(
    alice: MockHyberClient, receiver: CallbackReceiver
) -> None:
    alice.update_settings(callback_number_type="string", callback_hmac_secret="s3cret")
    alice.send_batch(batch(receiver.url, DELIVERED))
    alice.advance(2)
    [request] = receiver.wait_for(1, requests=True)
    assert request.body["number"] == DELIVERED
    assert request.header(SIGNATURE_HEADER)


def test_retry_settings_reach_a_delivery_already_waiting(
    alice: MockHyberClient, receiver: CallbackReceiver
) -> None:
    receiver.respond_with(default=500)
    alice.send_batch(batch(receiver.url, DELIVERED))
    alice.advance(2)  # attempt 1 fails; attempt 2 is due 10 s later (5 attempts by default)
    [delivery] = alice.callbacks()
    assert (delivery.status, delivery.attempt_count) == ("pending", 1)
    alice.update_settings(callback_max_attempts=2, callback_backoff=1)
    alice.advance(10)
    [delivery] = alice.callbacks()
    assert (delivery.status, delivery.attempt_count) == ("failed", 2)


def test_inbound_url_set_at_runtime(alice: MockHyberClient, receiver: CallbackReceiver) -> None:
    with pytest.raises(MockHyberError) as refused:
        alice.inbound("hi", phone=DELIVERED)
    assert refused.value.status_code == 400  # none configured at start-up
    alice.update_settings(inbound_url=receiver.url_for("/in"))
    alice.inbound("hi", phone=DELIVERED, channel="viber")
    alice.advance(0)
    [request] = receiver.wait_for(1, requests=True)
    assert request.path == "/in" and request.body["text_from_subscriber"] == "hi"
    assert alice.update_settings(inbound_url=None).inbound_url is None


def test_null_goes_back_to_the_server_wide_value(bob: MockHyberClient) -> None:
    bob.reset()
    assert bob.update_settings(callback_batch_size=None).callback_batch_size == 100
    bob.reset()
    assert bob.settings().callback_batch_size == 7


@pytest.mark.parametrize(
    "body",
    [
        {"callback_mode": "sometimes"},
        {"callback_batch_size": 0},
        {"callback_batch_size": "many"},
        {"callback_batch_period": 0},
        {"callback_max_attempts": 101},
        {"callback_jitter": 2},
        {"callback_backoff_factor": 0.5},
        {"callback_backoff_factor": 1e10},  # factor ** attempts would overflow
        {"callback_backoff": 1e306},  # its milliseconds would be infinite
        {"callback_batch_period": 1e306},
        {"callback_backoff_max": 4e9},
        {"inbound_url": "ftp://example.com/in"},
        {"inbound_url": "http://"},
        {"callback_mode": "batched", "login": "mallory"},
        {"seed": 7},
    ],
)
def test_a_bad_value_is_a_400_that_changes_nothing(
    server: LiveServer, alice: MockHyberClient, body: dict[str, object]
) -> None:
    before = httpx.get(f"{server.url}/_mock/settings").json()
    answer = httpx.patch(f"{server.url}/_mock/settings", json=body)
    assert answer.status_code == 400
    assert set(answer.json()) == {"error_code", "error_text"}
    assert httpx.get(f"{server.url}/_mock/settings").json() == before


@pytest.mark.parametrize("content", [b"[1]", b"{", b'"batched"'])
def test_a_body_that_is_not_an_object_is_a_400(server: LiveServer, content: bytes) -> None:
    answer = httpx.patch(
        f"{server.url}/_mock/settings",
        content=content,
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 400 and "error_code" in answer.json()


def test_an_unknown_account_is_a_404(server: LiveServer) -> None:
    answer = httpx.patch(f"{server.url}/_mock/settings?client_id=9", json={})
    assert answer.status_code == 404 and "error_code" in answer.json()


def test_the_settings_need_the_admin_token() -> None:
    with LiveServer(Settings(admin_token="t0ken", log_level="warning")) as live:
        assert httpx.get(f"{live.url}/_mock/settings").status_code == 401
        refused = httpx.patch(f"{live.url}/_mock/settings", json={"callback_mode": "batched"})
        assert refused.status_code == 401
        with MockHyberClient(live.url, admin_token="t0ken") as client:
            assert client.settings().callback_mode == "single"
            assert client.update_settings(callback_mode="batched").callback_mode == "batched"


def test_the_async_client_reads_and_changes_settings(server: LiveServer) -> None:
    async def scenario() -> None:
        async with AsyncMockHyberClient(server.url, "1002", "bob", "pw") as client:
            await client.reset()
            assert (await client.settings()).callback_batch_size == 7
            changed = await client.update_settings(callback_batch_size=3, callback_jitter=0.5)
            assert (changed.callback_batch_size, changed.callback_jitter) == (3, 0.5)
            with pytest.raises(MockHyberError) as refused:
                await client.update_settings(callback_batch_size=0)
            assert (refused.value.status_code, refused.value.error_code) == (400, 11002)
            await client.reset()
            assert (await client.settings()).callback_batch_size == 7

    asyncio.run(scenario())
