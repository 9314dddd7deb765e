"""The dashboard over HTTP: its pages, escaping, recipients paging, the live revision, the
admin token. (The browser tests are in test_ui_browser.py.)"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_hyber.config import Settings
from mock_hyber.testing.server import LiveServer
from mock_hyber.ui import views
from tests.bodies import batch_body, sms_options
from tests.conftest import ALICE

EVIL = "<script>alert('x')</script>"


def send(server: LiveServer, body: dict[str, Any], path: str = "/1001/batch/sync") -> Any:
    answer = httpx.post(server.url + path, json=body, auth=ALICE, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def job_id_of(client: httpx.Client) -> str:
    job_id: str = client.get("/_mock/jobs").json()["jobs"][-1]["job_id"]
    return job_id


def recipients_body(count: int, channels: tuple[str, ...] = ("sms",)) -> dict[str, Any]:
    options: dict[str, Any] = {"sms": sms_options(), "viber": {"ttl": 60}}
    return {
        "messages": [
            {"phone_number": 380500000000 + i, "extra_id": f"e-{i}", "text": f"Hello {i}"}
            for i in range(count)
        ],
        "channels": list(channels),
        "channel_options": {channel: options[channel] for channel in channels},
    }


def totals_row(page: str) -> list[int]:
    row = re.search(r'<tr id="job-totals">(.*?)</tr>', page, re.S)
    assert row is not None
    return [int(cell.replace(",", "")) for cell in re.findall(r">([\d,]+)</td>", row.group(1))]


def test_root_serves_the_dashboard_with_every_account(client: httpx.Client) -> None:
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert 'data-client-id="1001"' in answer.text and 'data-client-id="1002"' in answer.text
    for path in ("/ui", "/ui/jobs", "/ui/callbacks", "/ui/rules", "/ui/faults"):
        assert client.get(path).status_code == 200, path
    assert "380000000001" in client.get("/ui/rules").text  # the magic-number table
    script = client.get("/ui/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]


def test_text_from_requests_shows_as_text_on_every_page(
    server: LiveServer, client: httpx.Client
) -> None:
    body = batch_body(tag=EVIL, callback_url="http://127.0.0.1:9/x?a=<u>")
    body["messages"][0].update(text=EVIL, extra_id='"><img src=x onerror=alert(1)>')
    message_id = send(server, body)["messages"][0]["message_id"]
    client.post("/_mock/clock/advance", json={"seconds": 600, "wait_callbacks": True})
    job_id = job_id_of(client)
    pages = [f"/ui/messages/{message_id}", f"/ui/jobs/{job_id}", "/ui/jobs", "/ui/callbacks"]
    for path in pages:
        page = client.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "<u>" not in page, path
    page = client.get(f"/ui/messages/{message_id}").text
    assert html.escape(EVIL, quote=False) in page.replace("&#39;", "'")


def test_job_page_counts_by_status_and_channel(server: LiveServer, client: httpx.Client) -> None:
    body = recipients_body(0, ("viber", "sms"))
    magic = ["380000000001", "380000000003", "380000000004", "380000000002"]
    body["messages"] = [{"phone_number": int(phone), "text": "hi"} for phone in magic]
    send(server, body)
    job_id = job_id_of(client)
    # accepted, rejected, pending, active, delivered, failed, expired
    assert totals_row(client.get(f"/ui/jobs/{job_id}").text) == [
        3,
        1,
        0,
        3,
        0,
        0,
        0,
    ]  # started at once
    client.post("/_mock/clock/advance", json={"seconds": 3600})
    assert totals_row(client.get(f"/ui/jobs/{job_id}").text) == [3, 1, 0, 0, 2, 0, 1]
    account = server.backend.account("1001")
    progress = views.job_progress(account.store.job(job_id), account.clock.now_ms())
    assert progress["by_channel"]["viber"] == {
        "active": 0,
        "delivered": 1,
        "failed": 0,
        "expired": 0,
    }
    assert progress["by_channel"]["sms"]["delivered"] == 1  # after the viber leg expired
    assert progress["by_channel"]["sms"]["expired"] == 1


def test_small_and_large_jobs_are_counted_alike(server: LiveServer, client: httpx.Client) -> None:
    body = recipients_body(11, ("viber", "sms"))
    for phone in ("380000000001", "380000000002", "380000000003", "380000000004", "12"):
        body["messages"].append({"phone_number": int(phone), "text": "hi"})
    send(server, body)
    account = server.backend.account("1001")
    job = account.store.job(job_id_of(client))
    assert job.size <= views.SMALL_JOB
    start = account.clock.now_ms()
    for seconds in (0, 1, 30, 61, 62, 120, 400, 3600):
        now_ms = start + seconds * 1000
        one_by_one = views._counts_one_by_one(job, now_ms)
        assert one_by_one == views._counts_by_columns(job, now_ms), seconds


def test_recipients_are_paged_searched_and_filtered(
    server: LiveServer, client: httpx.Client
) -> None:
    send(server, recipients_body(120))
    job_id = job_id_of(client)

    def rows(**params: Any) -> list[str]:
        answer = client.get(f"/ui/jobs/{job_id}", params=params)
        assert answer.status_code == 200, answer.text
        return re.findall(r'<tr data-message-id="([^"]+)">', answer.text)

    assert len(rows()) == views.PAGE_SIZE
    assert len(rows(page=3)) == 20
    assert rows(page=99) == rows(page=3)  # past the end: the last page
    assert len(rows(q="e-7")) == 1
    assert len(rows(q="380500000007")) == 1
    assert rows(q="nobody") == []
    assert len(rows(status="active")) == views.PAGE_SIZE  # sent at once, none settled yet
    assert rows(status="pending") == rows(status="delivered") == []
    assert len(rows(channel="sms", page=3)) == 20
    client.post("/_mock/clock/advance", json={"seconds": 3600})
    page = client.get(f"/ui/jobs/{job_id}", params={"status": "delivered", "channel": "sms"})
    delivered = totals_row(page.text)[4]  # the job's own count: every delivery is on sms
    assert delivered > 0 and f"<small>{delivered:,} match" in page.text
    assert rows(channel="viber") == []  # not a channel of this job
    for params in ({"status": "bogus"}, {"channel": "fax"}, {"page": 0}, {"page": "x"}):
        answer = client.get(f"/ui/jobs/{job_id}", params=params)
        assert answer.status_code == 400, params
        assert answer.json()["error_code"] == 11002
    missing = client.get("/ui/jobs/no-such-job")
    assert missing.status_code == 404 and missing.json()["error_code"] == 11008
    assert client.get("/ui/messages/no-such-message").status_code == 404


def test_a_page_of_a_large_job_builds_only_its_rows(
    server: LiveServer, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    send(server, recipients_body(5000), "/1001/batch")
    job_id = job_id_of(client)
    built: list[int] = []
    real = views.message_at

    def counting(job: Any, index: int, now_ms: int) -> Any:
        built.append(index)
        return real(job, index, now_ms)

    monkeypatch.setattr(views, "message_at", counting)
    page = client.get(f"/ui/jobs/{job_id}", params={"page": 40}).text
    assert len(built) == views.PAGE_SIZE
    assert built[0] == 39 * views.PAGE_SIZE
    assert "5,000 match" in page


def test_live_revision_answers_304_until_something_changes(
    server: LiveServer, client: httpx.Client
) -> None:
    first = client.get("/ui/live")
    etag = first.headers["etag"]
    assert set(first.json()["clocks"]) == {"1001", "1002"}
    assert client.get("/ui/live", headers={"if-none-match": etag}).status_code == 304
    send(server, batch_body())  # a send
    second = client.get("/ui/live", headers={"if-none-match": etag})
    assert second.status_code == 200
    etag = second.headers["etag"]
    assert client.get("/ui/live", headers={"if-none-match": etag}).status_code == 304
    # Time alone (no control call) leaves the token: the page itself knows when what it
    # shows next moves, and asks for its live part then.
    job_id = job_id_of(client)
    part = client.get(f"/ui/jobs/{job_id}", headers={"X-UI-Fragment": "1"})
    assert "<html" not in part.text and 'id="job-totals"' in part.text
    now_ms = client.get("/_mock/clock").json()["clocks"]["1001"]["now_ms"]
    assert json.loads(part.headers["x-ui-next"])["1001"] > now_ms
    server.backend.account("1001").clock.advance(3600)
    assert client.get("/ui/live", headers={"if-none-match": etag}).status_code == 304
    part = client.get(f"/ui/jobs/{job_id}", headers={"X-UI-Fragment": "1"})
    assert json.loads(part.headers["x-ui-next"]) == {"1001": None}  # nothing left to happen
    assert json.loads(client.get("/ui/jobs").headers["x-ui-next"]) == {}  # nor on the list


def test_a_callback_attempt_moves_the_revision(server: LiveServer, client: httpx.Client) -> None:
    send(server, batch_body(callback_url="http://127.0.0.1:9/never"))
    client.post("/_mock/clock/advance", json={"seconds": 10})
    etag = client.get("/ui/live").headers["etag"]
    outbox = server.backend.account("1001").outbox
    before = outbox.revision
    client.post("/_mock/clock/advance", json={"seconds": 3600, "wait_callbacks": True})
    assert outbox.revision > before
    assert client.get("/ui/live", headers={"if-none-match": etag}).status_code == 200


@pytest.fixture(scope="module")
def guarded() -> Iterator[LiveServer]:
    with LiveServer(Settings(admin_token="s3cret", clock_frozen=True)) as live:
        yield live


def test_the_admin_token_guards_the_dashboard(guarded: LiveServer) -> None:
    with httpx.Client(base_url=guarded.url, timeout=10) as http:
        login = http.get("/ui/jobs")
        assert login.status_code == 401
        assert 'id="login-form"' in login.text and "clockbar" not in login.text
        assert http.get("/").status_code == 401
        assert http.get("/ui/live").status_code == 401
        assert http.get("/ui/live").json()["error_code"] == 10401
        assert http.get("/ui/static/app.js").status_code == 200  # no data in it
        assert http.get("/ui/jobs", headers={"Cookie": "mock_hyber_token=guess"}).status_code == 401
        cookie = {"Cookie": "mock_hyber_token=s3cret"}
        assert http.get("/ui/jobs", headers=cookie).status_code == 200
        assert http.get("/", headers={"X-Mock-Hyber-Token": "s3cret"}).status_code == 200
        bearer = {"Authorization": "Bearer s3cret"}
        assert http.get("/ui/live", headers=bearer).status_code == 200


def test_the_jobs_page_lists_the_newest_first(server: LiveServer, client: httpx.Client) -> None:
    for number in range(55):
        send(server, batch_body(tag=f"t{number}"), "/1001/batch")
    page = client.get("/ui/jobs").text
    tags = re.findall(r'<span class="pill">(t\d+)</span>', page)
    assert tags == [f"t{number}" for number in range(54, 4, -1)]
    assert "55 job(s), the newest 50 shown" in page
    assert "t0" not in tags
