"""Provider routes that report: campaign status and the simple/advanced delivery reports."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from mock_hyber.api.deps import authenticated_account
from mock_hyber.api.openapi import errors
from mock_hyber.api.responses import OrjsonResponse
from mock_hyber.engine.evaluate import message_at
from mock_hyber.errors import HyberError
from mock_hyber.model import Job, Message
from mock_hyber.schemas.responses import AdvancedReport, SimpleReport, StatusReport
from mock_hyber.state import AccountState

router = APIRouter(tags=["reports"])
_errors = errors(401, 404)
Account = Depends(authenticated_account)


@router.get(
    "/{client_id}/status/{job_id}",
    summary="Campaign status report: one item per recipient",
    response_model=StatusReport,
    responses=_errors,
)
async def campaign_status(job_id: str, account: AccountState = Account) -> OrjsonResponse:
    job = account.store.job(job_id)
    if job is None or job.kind == "single":
        raise HyberError.named("job_not_found", job_id)
    report = account.reports().status_report(job, account.clock.now_ms())
    return OrjsonResponse({"messages": report})


def _readable(account: AccountState, job: Job, index: int, what: str) -> Message:
    """The message as of now, once its report is readable: the real API answers a DR request
    with an error for about 10 s after the send (`dr_delay` virtual seconds here)."""
    now = account.clock.now_ms()
    ready_ms = job.created_ms + round(account.settings.dr_delay * 1000)
    if now < ready_ms:
        wait = (ready_ms - now) / 1000
        raise HyberError.named("report_not_ready", f"{what}: ask again in {wait:g} s")
    return message_at(job, index, now)


def _by_id(account: AccountState, message_id: str) -> Message:
    found = account.store.locate(message_id)
    if found is None:
        raise HyberError.named("message_not_found", message_id)
    return _readable(account, *found, message_id)


def _by_extra_id(account: AccountState, extra_id: str) -> Message:
    found = account.store.latest_by_extra_id(extra_id)
    if found is None:
        raise HyberError.named("message_not_found", f"extra_id {extra_id}")
    return _readable(account, *found, f"extra_id {extra_id}")


@router.get(
    "/{client_id}/api/dr/{message_id}/simple",
    summary="Simple delivery report by message_id",
    response_model=SimpleReport,
    responses=_errors,
)
async def simple_dr(message_id: str, account: AccountState = Account) -> OrjsonResponse:
    return OrjsonResponse(account.reports().simple_dr(_by_id(account, message_id)))


@router.get(
    "/{client_id}/api/dr/{message_id}/advanced",
    summary="Advanced delivery report (one entry per channel) by message_id",
    response_model=AdvancedReport,
    responses=_errors,
)
async def advanced_dr(message_id: str, account: AccountState = Account) -> OrjsonResponse:
    return OrjsonResponse(account.reports().advanced_dr(_by_id(account, message_id)))


@router.get(
    "/{client_id}/api/dr/external/{extra_id}/simple",
    summary="Simple delivery report by extra_id (the latest message with it)",
    response_model=SimpleReport,
    responses=_errors,
)
async def simple_dr_external(extra_id: str, account: AccountState = Account) -> OrjsonResponse:
    return OrjsonResponse(account.reports().simple_dr(_by_extra_id(account, extra_id)))


@router.get(
    "/{client_id}/api/dr/external/{extra_id}/advanced",
    summary="Advanced delivery report by extra_id (the latest message with it)",
    response_model=AdvancedReport,
    responses=_errors,
)
async def advanced_dr_external(extra_id: str, account: AccountState = Account) -> OrjsonResponse:
    return OrjsonResponse(account.reports().advanced_dr(_by_extra_id(account, extra_id)))
