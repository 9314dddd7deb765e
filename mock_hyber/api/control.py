"""The control and inspection plane, all under /_mock (provider paths start with a number).

The whole route table is in this file, so it reads at a glance.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mock_hyber.api.control_inputs import json_object, validated
from mock_hyber.api.deps import backend_of
from mock_hyber.api.openapi import errors, request_body
from mock_hyber.api.responses import OrjsonResponse
from mock_hyber.api_faults import ApiFault
from mock_hyber.callbacks.faults import CallbackFaults
from mock_hyber.callbacks.outbox import delivery_view
from mock_hyber.engine.clock import MAX_ADVANCE, MAX_SPEED, ClockError
from mock_hyber.engine.evaluate import message_at
from mock_hyber.engine.force import TransitionError, forced_script
from mock_hyber.engine.rules import MAX_CLICKS, MAX_CODE, ScenarioFile, parse_scenarios
from mock_hyber.errors import HyberError
from mock_hyber.loops.collector import thaw
from mock_hyber.loops.runner import report_due
from mock_hyber.model import Message
from mock_hyber.reports import view_of
from mock_hyber.schemas.control import (
    CallbacksResponse,
    ClocksResponse,
    CodesResponse,
    DeliveryView,
    DestinationsResponse,
    FaultsResponse,
    HealthResponse,
    JobDetail,
    JobsResponse,
    MagicResponse,
    MessagesResponse,
    MessageView,
    ResetResponse,
    ScenariosResponse,
)
from mock_hyber.service.destinations import destination_summaries
from mock_hyber.service.inbound import InboundRequest, simulate_reply
from mock_hyber.service.inspect import (
    MatchCount,
    MessageFilter,
    clock_view,
    find_messages,
    job_summary,
    message_view,
)
from mock_hyber.state import AccountState, Backend
from mock_hyber.version import __version__

router = APIRouter(prefix="/_mock", tags=["control"])
MAX_OPEN_WAITS = 64  # long-polls waiting at once, across accounts; more get a 429
MAX_MIN_COUNT = 1_000_000  # the most matches one long-poll may wait for
MIN_RECHECK = 0.05  # real seconds between two looks of a long-poll woken by time alone
Model = TypeVar("Model", bound=BaseModel)


async def _clocks(accounts: Iterable[AccountState], **extra: Any) -> OrjsonResponse:
    clocks = {account.client_id: await clock_view(account) for account in accounts}
    return OrjsonResponse({"clocks": clocks, **extra})


def _wake(request: Request) -> None:
    runner = getattr(request.app.state, "runner", None)
    if runner is not None:
        runner.wake()


class ClockChange(BaseModel):
    # strict: a body the description calls invalid ("2" for a number, 0 for a bool) is refused
    model_config = ConfigDict(extra="forbid", strict=True)

    client_id: str | None = None
    seconds: float | None = Field(None, ge=0, le=MAX_ADVANCE)
    speed: float | None = Field(None, gt=0, le=MAX_SPEED)
    frozen: bool | None = None
    wait_callbacks: bool = Field(False, description="answer once due callbacks were tried")
    timeout: float = Field(10.0, gt=0, le=300)


class ClockAdvance(ClockChange):
    """The body of POST /_mock/clock/advance (described; ClockChange validates it, and the
    endpoint requires `seconds`)."""

    seconds: float = Field(..., ge=0, le=MAX_ADVANCE)  # type: ignore[assignment]


async def _clock_change(
    request: Request, client_id: str | None
) -> tuple[ClockChange, list[AccountState]]:
    change = validated(ClockChange, await json_object(request))
    return change, backend_of(request).accounts_named(client_id or change.client_id)


async def _after_clock_change(
    request: Request, change: ClockChange, accounts: list[AccountState]
) -> OrjsonResponse:
    await report_due(accounts)
    _wake(request)
    backend_of(request).changes.bump()  # statuses move with the clock: long-polls look again
    if change.wait_callbacks:
        # settled false: due callbacks were still being tried at the timeout
        settled = await request.app.state.dispatcher.settle(accounts, change.timeout)
        return await _clocks(accounts, settled=settled)
    return await _clocks(accounts)


# -- health, magic, codes -------------------------------------------------------------------


@router.get(
    "/health",
    summary="Liveness and readiness",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "A background loop stopped"}},
)
async def health(request: Request) -> OrjsonResponse:
    backend = backend_of(request)
    loops = getattr(request.app.state, "loops", None)
    dead = {name: s["dead"] for name, s in (loops.health() if loops else {}).items() if s["dead"]}
    body: dict[str, Any] = {
        "status": "unhealthy" if dead else "ok",
        "version": __version__,
        "seed": backend.seed,
        "accounts": sorted(backend.accounts),
        "messages": sum(len(account.store) for account in backend.accounts.values()),
    }
    if dead:
        body["dead_loops"] = dead  # a background loop stopped: restart the server
    return OrjsonResponse(body, status_code=503 if dead else 200)


@router.get(
    "/magic",
    summary="The magic phone numbers and what each one does",
    response_model=MagicResponse,
)
async def magic(request: Request) -> OrjsonResponse:
    numbers = backend_of(request).magic
    return OrjsonResponse(
        {"magic_numbers": [number.model_dump(exclude_defaults=True) for number in numbers]}
    )


@router.get("/codes", summary="The code catalogue in use", response_model=CodesResponse)
async def codes(request: Request) -> OrjsonResponse:
    return OrjsonResponse(backend_of(request).catalogue.as_dict())


# -- reset ------------------------------------------------------------------------------------


@router.post(
    "/reset",
    summary="Wipe one account (?client_id=) or every account",
    response_model=ResetResponse,
)
async def reset(request: Request, client_id: str | None = None) -> OrjsonResponse:
    backend = backend_of(request)
    accounts = backend.accounts_named(client_id)
    for account in accounts:
        account.reset()
    _wake(request)
    backend.changes.bump()
    if request.app.state.owns_process:
        thaw()  # what the reset dropped may now be collected
    return OrjsonResponse({"reset": [account.client_id for account in accounts]})


# -- clock ------------------------------------------------------------------------------------


@router.get(
    "/clock",
    summary="The virtual clock of each account (or ?client_id=)",
    response_model=ClocksResponse,
)
async def get_clock(request: Request, client_id: str | None = None) -> OrjsonResponse:
    return await _clocks(backend_of(request).accounts_named(client_id))


@router.post(
    "/clock",
    summary="Set speed and/or frozen: {speed, frozen, client_id}",
    response_model=ClocksResponse,
    openapi_extra=request_body(ClockChange, required=False),
)
async def set_clock(request: Request, client_id: str | None = None) -> OrjsonResponse:
    change, accounts = await _clock_change(request, client_id)
    for account in accounts:
        if change.speed is not None:
            account.clock.set_speed(change.speed)
        if change.frozen is True:
            account.clock.freeze()
        elif change.frozen is False:
            account.clock.resume()
    return await _after_clock_change(request, change, accounts)


@router.post(
    "/clock/advance",
    summary="Move virtual time forward {seconds} and run every event due by then",
    response_model=ClocksResponse,
    openapi_extra=request_body(ClockAdvance, example={"seconds": 60}),
)
async def advance_clock(request: Request, client_id: str | None = None) -> OrjsonResponse:
    change, accounts = await _clock_change(request, client_id)
    if change.seconds is None:
        raise HyberError.named("missing_parameter", "seconds")
    for account in accounts:  # every account can, or none moves: a refusal changes nothing
        try:
            account.clock.check_advance(change.seconds)
        except ClockError as exc:
            raise HyberError.named("invalid_parameter", f"seconds: {exc}") from None
    for account in accounts:
        account.clock.advance(change.seconds)
    return await _after_clock_change(request, change, accounts)


@router.post(
    "/clock/freeze",
    summary="Stop virtual time (events wait for an advance)",
    response_model=ClocksResponse,
    openapi_extra=request_body(ClockChange, required=False),
)
async def freeze_clock(request: Request, client_id: str | None = None) -> OrjsonResponse:
    change, accounts = await _clock_change(request, client_id)
    for account in accounts:
        account.clock.freeze()
    return await _after_clock_change(request, change, accounts)


@router.post(
    "/clock/resume",
    summary="Let virtual time run again at its speed",
    response_model=ClocksResponse,
    openapi_extra=request_body(ClockChange, required=False),
)
async def resume_clock(request: Request, client_id: str | None = None) -> OrjsonResponse:
    change, accounts = await _clock_change(request, client_id)
    for account in accounts:
        account.clock.resume()
    return await _after_clock_change(request, change, accounts)


# -- scenarios --------------------------------------------------------------------------------


@router.get(
    "/scenarios",
    summary="Scenario rules and random profile in force",
    response_model=ScenariosResponse,
)
async def get_scenarios(request: Request, client_id: str | None = None) -> OrjsonResponse:
    accounts = backend_of(request).accounts_named(client_id)
    return OrjsonResponse(
        {"scenarios": {a.client_id: a.engine.planner.describe() for a in accounts}}
    )


@router.put(
    "/scenarios",
    summary="Replace the scenario rules (YAML or JSON) for messages accepted from now on",
    description=(
        "The body is a scenario file in JSON or YAML, whatever its Content-Type (a bare list"
        " is taken as its rules). An empty body clears the rules."
    ),
    response_model=ScenariosResponse,
    openapi_extra=request_body(
        ScenarioFile,
        required=False,
        example={
            "rules": [
                {
                    "name": "slow-sms",
                    "match": {"phone": "38096.*"},
                    "channels": {"sms": {"outcome": "delivered", "after": 30}},
                }
            ]
        },
    ),
)
async def put_scenarios(request: Request, client_id: str | None = None) -> OrjsonResponse:
    accounts = backend_of(request).accounts_named(client_id)
    try:
        scenarios = parse_scenarios(await request.body())
        for account in accounts:
            account.use_scenarios(scenarios)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "scenarios"
        raise HyberError.named("invalid_parameter", f"{where}: {first['msg']}") from None
    except ValueError as exc:  # YAML syntax errors and bad profile overrides
        raise HyberError.named("invalid_parameter", f"scenarios: {exc}") from None
    return OrjsonResponse(
        {"scenarios": {a.client_id: a.engine.planner.describe() for a in accounts}}
    )


# -- inspection -------------------------------------------------------------------------------


def _find_message(backend: Backend, message_id: str) -> tuple[AccountState, Message]:
    for account in backend.accounts.values():
        found = account.store.locate(message_id)
        if found is not None:
            return account, message_at(*found, account.clock.now_ms())
    raise HyberError.named("message_not_found", message_id)


@router.get(
    "/jobs",
    summary="Jobs, newest last, with message counts by state",
    response_model=JobsResponse,
)
async def list_jobs(
    request: Request,
    client_id: str | None = None,
    tag: str | None = None,
    kind: str | None = None,
    limit: int = Query(100, ge=0, le=100_000),
) -> OrjsonResponse:
    jobs = [
        (job, account.clock.now_ms())
        for account in backend_of(request).accounts_named(client_id)
        for job in account.store.jobs.values()
        if (tag is None or job.tag == tag) and (kind is None or job.kind == kind)
    ]
    jobs.sort(key=lambda found: found[0].created_ms)
    shown = jobs[-limit:] if limit else []
    return OrjsonResponse(
        {"total": len(jobs), "jobs": [job_summary(job, now) for job, now in shown]}
    )


@router.get("/jobs/{job_id}", summary="One job with its messages", response_model=JobDetail)
async def get_job(request: Request, job_id: str) -> OrjsonResponse:
    for account in backend_of(request).accounts.values():
        job = account.store.job(job_id)
        if job is not None:
            builder, now = account.reports(), account.clock.now_ms()
            messages = [
                message_view(message_at(job, index, now), builder, full=False)
                for index in range(job.size)
            ]
            return OrjsonResponse({**job_summary(job, now), "messages": messages})
    raise HyberError.named("job_not_found", job_id)


async def _wait_for_matches(
    backend: Backend,
    accounts: list[AccountState],
    filters: MessageFilter,
    min_count: int,
    wait: float,
) -> None:
    """Return once `min_count` messages match, or after `wait` seconds. Statuses change with
    time alone: the poll wakes at the next planned moment of what can match, or on a change (a
    send, the clock), looks again at most every MIN_RECHECK s and then only at the jobs that
    changed; polls waiting for the same thing share one count; a count that cannot be met
    (fewer messages held) costs nothing."""
    deadline = time.monotonic() + wait
    key = (filters, tuple(account.client_id for account in accounts))
    counter, users = backend.changes.shared.get(key) or (MatchCount(accounts, filters), 0)
    if await counter.reached(min_count, 0):
        return
    if backend.changes.waiting >= MAX_OPEN_WAITS:
        raise HyberError.named("too_many_waits", f"at most {MAX_OPEN_WAITS} at a time")
    backend.changes.waiting += 1
    backend.changes.shared[key] = (counter, users + 1)
    try:
        while not await counter.reached(min_count, MIN_RECHECK) and time.monotonic() < deadline:
            left = deadline - time.monotonic()
            upcoming = counter.seconds_to_next()
            await backend.changes.wait(left if upcoming is None else min(left, upcoming))
            await asyncio.sleep(min(MIN_RECHECK, max(0.0, deadline - time.monotonic())))
    finally:
        backend.changes.waiting -= 1
        counter, users = backend.changes.shared[key]
        if users > 1:
            backend.changes.shared[key] = (counter, users - 1)
        else:
            del backend.changes.shared[key]


@router.get(
    "/messages",
    summary="Messages matching the filters; with wait=, answer as soon as enough match",
    response_model=MessagesResponse,
    responses=errors(429),
)
async def list_messages(
    request: Request,
    client_id: str | None = None,
    phone: str | None = None,
    channel: Literal["push", "viber", "sms", "whatsapp"] | None = None,
    via: Literal["push", "viber", "sms", "whatsapp"] | None = None,
    status: Literal["pending", "active", "delivered", "failed", "rejected", "final"] | None = None,
    job_id: str | None = None,
    extra_id: str | None = None,
    tag: str | None = None,
    wait: float = Query(0.0, ge=0, le=300, description="seconds to wait for a match"),
    min_count: int = Query(
        1, ge=1, le=MAX_MIN_COUNT, description="how many matches `wait` waits for"
    ),
    limit: int = Query(100, ge=0, le=100_000),
    full: bool = False,
) -> OrjsonResponse:
    backend = backend_of(request)
    accounts = backend.accounts_named(client_id)
    filters = MessageFilter(phone, channel, via, status, job_id, extra_id, tag)
    if wait > 0:
        await _wait_for_matches(backend, accounts, filters, min_count, wait)
    total, shown = await find_messages(accounts, filters, limit)
    builder = backend.reports()
    return OrjsonResponse(
        {
            "total": total,
            "matched": total >= min_count,
            "messages": [message_view(m, builder, full=full) for m in shown],
        }
    )


@router.get(
    "/messages/{message_id}",
    summary="One message: state, reports and planned life",
    response_model=MessageView,
)
async def get_message(request: Request, message_id: str) -> OrjsonResponse:
    account, message = _find_message(backend_of(request), message_id)
    return OrjsonResponse(message_view(message, account.reports()))


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    status: Literal["delivered", "failed", "expired", "seen", "clicked"]
    channel: Literal["push", "viber", "sms", "whatsapp"] | None = None
    code: int | None = Field(
        None, ge=0, le=MAX_CODE, description="hyber_status to report instead of the default"
    )
    clicks: int = Field(1, ge=1, le=MAX_CLICKS)


@router.post(
    "/messages/{message_id}/transition",
    summary="Force a status now: delivered, failed, expired (final), seen or clicked",
    response_model=MessageView,
    responses=errors(409),
    openapi_extra=request_body(Transition, example={"status": "delivered"}),
)
async def transition(request: Request, message_id: str) -> OrjsonResponse:
    change = validated(Transition, await json_object(request))
    account, _ = _find_message(backend_of(request), message_id)
    await report_due([account])  # what was due before the change is reported first
    account, message = _find_message(backend_of(request), message_id)
    now = account.clock.now_ms()
    try:
        script = forced_script(
            message,
            view_of(message),
            change.status,
            now,
            account.backend.catalogue,
            change.channel,
            change.code,
            change.clicks,
        )
    except TransitionError as exc:
        raise HyberError.named("conflict", str(exc)) from None
    account.rewrite_message(message.job, message.index, script, kept=message.step)
    await report_due([account])
    message = message_at(message.job, message.index, account.clock.now_ms())
    return OrjsonResponse(message_view(message, account.reports()))


# -- callbacks, faults, inbound ---------------------------------------------------------------


@router.get(
    "/callbacks",
    summary="Callback deliveries and their attempts, oldest first",
    response_model=CallbacksResponse,
)
async def list_callbacks(
    request: Request,
    client_id: str | None = None,
    message_id: str | None = None,
    job_id: str | None = None,
    url: str | None = None,
    status: Literal["pending", "queued", "delivered", "failed", "dropped"] | None = None,
    kind: Literal["report", "batch", "inbound"] | None = None,
    limit: int = Query(1000, ge=0, le=1_000_000),
    body: bool = True,
) -> OrjsonResponse:
    found = []
    for account in backend_of(request).accounts_named(client_id):
        found += account.outbox.find(message_id, job_id, url, status, kind)
    found.sort(key=lambda delivery: delivery.id)
    shown = found[-limit:] if limit > 0 else []
    return OrjsonResponse(
        {"total": len(found), "callbacks": [delivery_view(d, with_body=body) for d in shown]}
    )


@router.get(
    "/callbacks/destinations",
    summary="Each callback destination: pending, delivered and failed counts, last error, breaker",
    response_model=DestinationsResponse,
)
async def list_callback_destinations(
    request: Request, client_id: str | None = None
) -> OrjsonResponse:
    accounts = backend_of(request).accounts_named(client_id)
    return OrjsonResponse({"destinations": await destination_summaries(accounts)})


@router.post(
    "/callbacks/{delivery_id}/redeliver",
    summary="Send a callback again, now",
    response_model=DeliveryView,
)
async def redeliver_callback(request: Request, delivery_id: int) -> OrjsonResponse:
    for account in backend_of(request).accounts.values():
        delivery = account.outbox.deliveries.get(delivery_id)
        if delivery is not None:
            account.outbox.redeliver(delivery)
            return OrjsonResponse(delivery_view(delivery))
    raise HyberError.named("not_found", f"no callback delivery {delivery_id}")


class FaultsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api: list[ApiFault] = Field(default_factory=list)
    callbacks: CallbackFaults = Field(default_factory=CallbackFaults)


def _faults(accounts: list[AccountState]) -> OrjsonResponse:
    return OrjsonResponse(
        {
            "faults": {
                a.client_id: {"api": a.api_faults.view(), "callbacks": a.outbox.faults.model_dump()}
                for a in accounts
            }
        }
    )


@router.get("/faults", summary="Faults in force, per account", response_model=FaultsResponse)
async def get_faults(request: Request, client_id: str | None = None) -> OrjsonResponse:
    return _faults(backend_of(request).accounts_named(client_id))


@router.put(
    "/faults",
    summary="Replace the API and callback faults of one account (?client_id=) or all",
    response_model=FaultsResponse,
    openapi_extra=request_body(
        FaultsUpdate,
        required=False,
        example={"api": [{"endpoint": "batch", "status": 503, "count": 1}]},
    ),
)
async def put_faults(request: Request, client_id: str | None = None) -> OrjsonResponse:
    update = validated(FaultsUpdate, await json_object(request))
    accounts = backend_of(request).accounts_named(client_id)
    for account in accounts:
        account.api_faults.set(update.api)
        account.outbox.faults = update.callbacks
    return _faults(accounts)


@router.post(
    "/inbound",
    summary="Simulate a user reply (2-way), POSTed to the inbound URL",
    status_code=202,
    response_model=DeliveryView,
    responses=errors(404),
    openapi_extra=request_body(
        InboundRequest, example={"phone": "380961111111", "channel": "viber", "text": "Yes"}
    ),
)
async def inbound(request: Request) -> OrjsonResponse:
    reply = validated(InboundRequest, await json_object(request))
    backend = backend_of(request)
    if reply.client_id is not None:
        account = backend.accounts_named(reply.client_id)[0]
    elif reply.message_id is not None:
        found = [a for a in backend.accounts.values() if a.store.locate(reply.message_id)]
        if not found:
            raise HyberError.named("message_not_found", reply.message_id)
        account = found[0]
    else:
        account = next(iter(backend.accounts.values()))
    delivery = simulate_reply(account, reply)
    return OrjsonResponse(delivery_view(delivery), status_code=202)
