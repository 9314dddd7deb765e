"""GET /metrics: Prometheus text format, parsed with prometheus_client's own parser.

One in-process server for the module (frozen clock, one callback attempt per report); each
test reads the counters before and after what it does and checks the difference, so the
tests do not depend on each other's traffic.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mock_hyber.config import Settings
from mock_hyber.testing.server import LiveServer
from tests.callback_helpers import ALICE, START, batch_body
from tests.receiver import DownReceiver, Receiver

DELIVERED = "380000000001"  # the first channel (viber) delivers after 1 s
FALLBACK = "380000000002"  # viber expires at its ttl (60 s), sms delivers 2 s later
ALL_EXPIRE = "380000000003"  # viber and sms expire: final failed on sms
REJECTED = "380000000004"  # refused at acceptance
BLOCKED = "380000000007"  # blocked by the platform: final failed, channel "hyber"
BATCH = "POST /{client_id}/batch"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    settings = Settings(
        accounts="1001:alice:secret",
        seed=5,
        clock_frozen=True,
        clock_start=START,
        callback_max_attempts=1,  # a refused report fails at once
    )
    with LiveServer(settings) as live:
        yield live


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        client.post("/_mock/reset").raise_for_status()
        yield client


def scrape(http: httpx.Client) -> Samples:
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def advance(http: httpx.Client, seconds: float) -> None:
    answer = http.post(
        "/_mock/clock/advance", json={"seconds": seconds, "wait_callbacks": True, "timeout": 10}
    )
    assert answer.status_code == 200, answer.text


def post_batch(http: httpx.Client, data: dict[str, Any], auth: Any = ALICE) -> httpx.Response:
    return http.post("/1001/batch", json=data, auth=auth)


# -- requests --------------------------------------------------------------------------------


def test_requests_are_counted_by_route_template_and_status(http: httpx.Client) -> None:
    before = scrape(http)
    for _ in range(3):
        assert post_batch(http, batch_body(None, [DELIVERED])).status_code == 200
    assert post_batch(http, batch_body(None, [DELIVERED]), ("alice", "wrong")).status_code == 401
    assert post_batch(http, batch_body(None, [DELIVERED]), auth=None).status_code == 401
    bad_json = http.post(
        "/1001/batch", content=b"{", headers={"Content-Type": "application/json"}, auth=ALICE
    )
    assert bad_json.status_code == 400
    job_id = http.get("/_mock/jobs").json()["jobs"][0]["job_id"]
    for _ in range(2):
        assert http.get(f"/1001/status/{job_id}", auth=ALICE).status_code == 200
    assert http.get("/1001/status/no-such-job", auth=ALICE).status_code == 404
    assert http.get("/no/such/path/abc123").status_code == 404
    after = scrape(http)

    assert delta(before, after, "mock_hyber_http_requests_total", endpoint=BATCH, status="200") == 3
    assert delta(before, after, "mock_hyber_http_requests_total", endpoint=BATCH, status="401") == 2
    assert delta(before, after, "mock_hyber_http_requests_total", endpoint=BATCH, status="400") == 1
    status_route = "GET /{client_id}/status/{job_id}"
    requests = "mock_hyber_http_requests_total"
    assert delta(before, after, requests, endpoint=status_route, status="200") == 2
    assert delta(before, after, requests, endpoint=status_route, status="404") == 1
    # The previous scrape itself was counted.
    assert delta(before, after, requests, endpoint="GET /metrics", status="200") == 1
    # Labels are route templates: no job id, no unknown path becomes a label value.
    endpoints = {dict(labels).get("endpoint", "") for name, labels in after if name == requests}
    assert not any(job_id in endpoint or "abc123" in endpoint for endpoint in endpoints)


# -- messages --------------------------------------------------------------------------------


def test_acceptance_outcomes_and_final_statuses_by_channel(http: httpx.Client) -> None:
    before = scrape(http)
    phones = [DELIVERED, DELIVERED, FALLBACK, ALL_EXPIRE, BLOCKED, REJECTED, REJECTED]
    assert post_batch(http, batch_body(None, phones)).status_code == 200
    mid = scrape(http)
    assert delta(before, mid, "mock_hyber_messages_accepted_total", outcome="accepted") == 5
    assert delta(before, mid, "mock_hyber_messages_accepted_total", outcome="rejected") == 2
    advance(http, 400)  # past viber's 60 s and sms's 300 s: everything is final
    after = scrape(http)

    final = "mock_hyber_messages_final_total"
    assert delta(before, after, final, channel="viber", status="delivered") == 2
    assert delta(before, after, final, channel="sms", status="delivered") == 1
    assert delta(before, after, final, channel="sms", status="failed") == 1
    assert delta(before, after, final, channel="hyber", status="failed") == 1
    total = sum(
        after[key] - before.get(key, 0.0) for key in after if key[0] == final
    )  # every accepted message once, rejected ones never
    assert total == 5


# -- callbacks -------------------------------------------------------------------------------


def test_callback_attempts_failures_and_latency(http: httpx.Client) -> None:
    with Receiver() as receiver, DownReceiver() as down:
        before = scrape(http)
        assert post_batch(http, batch_body(receiver.url, [DELIVERED] * 3)).status_code == 200
        assert post_batch(http, batch_body(down.url, [DELIVERED] * 2)).status_code == 200
        advance(http, 5)
        assert len(receiver.requests) == 3
        after = scrape(http)
    attempts = "mock_hyber_callback_attempts_total"
    assert delta(before, after, attempts, outcome="success") == 3
    assert delta(before, after, attempts, outcome="failure") == 2
    assert delta(before, after, "mock_hyber_callbacks_failed_total") == 2  # max_attempts = 1
    failed = http.get("/_mock/callbacks", params={"status": "failed"}).json()
    assert failed["total"] == 2

    histogram = "mock_hyber_callback_latency_seconds"
    assert delta(before, after, f"{histogram}_count") == 5
    assert delta(before, after, f"{histogram}_sum") > 0
    assert delta(before, after, f"{histogram}_bucket", le="+Inf") == 5
    buckets = sorted(
        (float(dict(labels)["le"]), count)
        for (name, labels), count in after.items()
        if name == f"{histogram}_bucket"
    )
    counts = [count for _, count in buckets]
    assert counts == sorted(counts)  # cumulative
    assert counts[-1] == value(after, f"{histogram}_count")


# -- gauges ----------------------------------------------------------------------------------


def test_level_gauges_follow_the_store_the_engine_and_the_callbacks(http: httpx.Client) -> None:
    with DownReceiver() as down:
        empty = scrape(http)
        for name in (
            "mock_hyber_stored_messages",
            "mock_hyber_stored_jobs",
            "mock_hyber_pending_events",
            "mock_hyber_pending_callbacks",
        ):
            assert value(empty, name, client_id="1001") == 0, name
        assert ("mock_hyber_callback_queue_depth", ()) in empty

        phones = [DELIVERED, ALL_EXPIRE, REJECTED]
        assert post_batch(http, batch_body(down.url, phones)).status_code == 200
        waiting = scrape(http)
        assert value(waiting, "mock_hyber_stored_messages", client_id="1001") == 3
        assert value(waiting, "mock_hyber_stored_jobs", client_id="1001") == 1
        assert value(waiting, "mock_hyber_pending_events", client_id="1001") > 0

        advance(http, 400)
        done = scrape(http)
        assert value(done, "mock_hyber_pending_events", client_id="1001") == 0
        assert value(done, "mock_hyber_stored_messages", client_id="1001") == 3
        assert value(done, "mock_hyber_pending_callbacks", client_id="1001") == 0  # failed
        assert value(done, "mock_hyber_callback_queue_depth") == 0
        assert {
            "mock_hyber_stored_messages",
            "mock_hyber_pending_events",
            "mock_hyber_callback_queue_depth",
        } <= names(done)

        http.post("/_mock/reset").raise_for_status()
        reset = scrape(http)
        assert value(reset, "mock_hyber_stored_messages", client_id="1001") == 0
        assert value(reset, "mock_hyber_stored_jobs", client_id="1001") == 0


def test_final_statuses_never_go_down_when_retention_drops_a_job() -> None:
    """Final statuses are derived from the plans of the jobs held; a job retention drops keeps
    counting what had settled, so the counter only grows."""
    settings = Settings(
        accounts="1001:alice:secret",
        seed=5,
        clock_frozen=True,
        clock_start=START,
        retention_max_messages=3,
    )
    final = "mock_hyber_messages_final_total"
    with LiveServer(settings) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        assert post_batch(http, batch_body(None, [DELIVERED, DELIVERED])).status_code == 200
        advance(http, 5)
        first = scrape(http)
        assert value(first, final, channel="viber", status="delivered") == 2
        assert post_batch(http, batch_body(None, [DELIVERED, DELIVERED])).status_code == 200
        assert http.get("/_mock/jobs").json()["total"] == 1  # the first job was dropped
        advance(http, 5)
        second = scrape(http)
        assert value(second, final, channel="viber", status="delivered") == 4
