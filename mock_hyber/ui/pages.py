"""The dashboard's routes: / and /ui/... pages (server-rendered), and /ui/live, the revision
its pages poll. Actions (clock, faults, reset, redeliver) are the control API's own
endpoints, called by the page's script with the admin token when one is set."""

from __future__ import annotations

import secrets
from typing import Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from mock_hyber.engine.evaluate import message_at
from mock_hyber.errors import HyberError
from mock_hyber.model import CHANNEL_NAMES
from mock_hyber.service.inspect import clock_view
from mock_hyber.state import Backend
from mock_hyber.ui import views
from mock_hyber.ui.live import clocks, token
from mock_hyber.ui.render import FRAGMENT_HEADER, page

router = APIRouter(include_in_schema=False)
TOKEN_COOKIE = "mock_hyber_token"
JOBS_SHOWN = 50  # the newest jobs on the Jobs page
NEXT_HEADER = "x-ui-next"  # a refreshed part's next moments (JSON), for the page's script


def _backend(request: Request) -> Backend:
    backend: Backend = request.app.state.backend
    return backend


def _admitted(request: Request) -> bool:
    """With an admin token set, the dashboard wants it: from the cookie its login form sets,
    or the control API's headers."""
    token: str | None = request.app.state.settings.admin_token
    if not token:
        return True
    presented = request.cookies.get(TOKEN_COOKIE) or request.headers.get("x-mock-hyber-token")
    authorization = request.headers.get("authorization", "")
    if presented is None and authorization[:7].lower() == "bearer ":
        presented = authorization[7:].strip()
    return presented is not None and secrets.compare_digest(presented.encode(), token.encode())


def _render(
    request: Request,
    name: str,
    title: str,
    next_moments: dict[str, int | None] | None = None,
    **context: object,
) -> HTMLResponse:
    """The page, or its live part; `next_moments`: per account, the next planned moment of
    what the page shows (its script refreshes the page once the clock passes it)."""
    if not _admitted(request):
        return page("login.html", {"title": "Admin token", "nav": "", "accounts": []}, False, 401)
    backend = _backend(request)
    moments = orjson.dumps(next_moments or {}).decode()
    base = {
        "title": title,
        "nav": name.removesuffix(".html"),
        "accounts": sorted(backend.accounts),
        "clocks_json": orjson.dumps(clocks(backend)).decode(),
        "revision": f'"{token(backend)}"',
        "next_json": moments,
    }
    fragment = request.headers.get(FRAGMENT_HEADER) == "1"
    response = page(name, {**base, **context}, fragment)
    response.headers[NEXT_HEADER] = moments
    return response


@router.get("/", response_class=HTMLResponse)
async def accounts_page(request: Request) -> Response:
    backend = _backend(request)
    rows = [views.account_row(account) for account in backend.accounts.values()]
    return _render(request, "accounts.html", "Accounts", rows=rows)


@router.get("/ui", response_class=HTMLResponse)
async def ui_home(request: Request) -> Response:
    return await accounts_page(request)


@router.get("/ui/jobs", response_class=HTMLResponse)
async def jobs_page(request: Request, client_id: str | None = None) -> Response:
    if not _admitted(request):
        return _render(request, "jobs.html", "Jobs")
    accounts = _backend(request).accounts_named(client_id or None)
    total, jobs = views.jobs_of(accounts, JOBS_SHOWN)
    return _render(request, "jobs.html", "Jobs", jobs=jobs, total=total, client_id=client_id or "")


@router.get("/ui/jobs/{job_id}", response_class=HTMLResponse)
async def job_page(
    request: Request,
    job_id: str,
    q: str = Query("", max_length=200),
    status: Literal["", *views.STATUSES] = "",  # type: ignore[valid-type]
    channel: Literal["", *CHANNEL_NAMES] = "",  # type: ignore[valid-type]
    page_number: int = Query(1, alias="page", ge=1, le=10_000_000),
) -> Response:
    if not _admitted(request):
        return _render(request, "job.html", "Job")
    for account in _backend(request).accounts.values():
        job = account.store.job(job_id)
        if job is not None:
            now = account.clock.now_ms()
            query = views.RecipientQuery(q.strip(), status, channel, page_number - 1)
            progress = views.job_progress(job, now)
            return _render(
                request,
                "job.html",
                f"Job {job_id}",
                {account.client_id: progress["next_ms"]},
                job=progress,
                found=views.recipients(job, now, query),
                query=query,
                statuses=views.STATUSES,
            )
    raise HyberError.named("job_not_found", job_id)


@router.get("/ui/messages/{message_id}", response_class=HTMLResponse)
async def message_page(request: Request, message_id: str) -> Response:
    if not _admitted(request):
        return _render(request, "message.html", "Message")
    for account in _backend(request).accounts.values():
        found = account.store.locate(message_id)
        if found is not None:
            message = message_at(*found, account.clock.now_ms())
            shown = views.timeline(account, message)
            return _render(
                request,
                "message.html",
                f"Message {message_id}",
                {account.client_id: shown["next_ms"]},
                message=shown,
                clock=await clock_view(account),
            )
    raise HyberError.named("message_not_found", message_id)


@router.get("/ui/callbacks", response_class=HTMLResponse)
async def callbacks_page(request: Request, client_id: str | None = None) -> Response:
    if not _admitted(request):
        return _render(request, "callbacks.html", "Callbacks")
    backend = _backend(request)
    accounts = backend.accounts_named(client_id or None)
    groups = await views.receivers(accounts)
    return _render(
        request,
        "callbacks.html",
        "Callbacks",
        groups=groups,
        destinations=views.destination_summary(accounts, [group["url"] for group in groups]),
    )


@router.get("/ui/rules", response_class=HTMLResponse)
async def rules_page(request: Request) -> Response:
    if not _admitted(request):
        return _render(request, "rules.html", "Rules")
    shown = views.rules(_backend(request))
    return _render(request, "rules.html", "Magic numbers and scenarios", **shown)


@router.get("/ui/faults", response_class=HTMLResponse)
async def faults_page(request: Request) -> Response:
    if not _admitted(request):
        return _render(request, "faults.html", "Faults")
    faults = views.faults(_backend(request))
    return _render(
        request, "faults.html", "Faults", faults=faults, faults_json=orjson.dumps(faults).decode()
    )


@router.get("/ui/live")
async def live(request: Request) -> Response:
    """The revision token as an ETag: 304 while it has not moved. A 200 carries the clocks."""
    if not _admitted(request):
        raise HyberError.named("unauthorized", "the dashboard needs the admin token")
    etag = f'"{token(_backend(request))}"'
    headers = {"etag": etag, "cache-control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    body = orjson.dumps({"revision": etag, "clocks": clocks(_backend(request))})
    return Response(body, media_type="application/json", headers=headers)
