"""Provider routes that send: single, batch and broadcast, async and sync."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from mock_hyber.api.deps import authenticated_account, json_body
from mock_hyber.api.openapi import errors, request_body
from mock_hyber.api.responses import OrjsonResponse
from mock_hyber.model import Job
from mock_hyber.schemas.requests import BatchRequest, BroadcastRequest, SingleRequest
from mock_hyber.schemas.responses import (
    JobIdResponse,
    MessageIdResponse,
    SyncResponse,
)
from mock_hyber.service.accept import SendingService
from mock_hyber.state import AccountState

router = APIRouter(tags=["sending"])
_SMS = {"sms": {"ttl": 300, "alpha_name": "GMSU"}}
_SINGLE = {
    "phone_number": 380961111111,
    "extra_id": "order-1",
    "channels": ["sms"],
    "channel_options": {"sms": {**_SMS["sms"], "text": "Your code is 1234"}},
}
_BATCH = {
    "messages": [
        {"phone_number": 380961111111, "extra_id": "b-1", "text": "Hello one"},
        {"phone_number": 380962222222, "extra_id": "b-2", "text": "Hello two"},
    ],
    "channels": ["sms"],
    "channel_options": _SMS,
    "tag": "example",
}
_BROADCAST = {
    "recipients": [{"phone_number": 380961111111, "extra_id": "r-1", "name": "Ann"}],
    "channels": ["sms"],
    "channel_options": {"sms": {**_SMS["sms"], "text": "Dear %name%"}},
}
_errors = errors(400, 401, 404, 408, 413, 415)
Account = Depends(authenticated_account)
Body = Depends(json_body)


def _sync(account: AccountState, job: Job) -> OrjsonResponse:
    return OrjsonResponse({"messages": account.reports().acceptance_items(job)})


@router.post(
    "/{client_id}",
    summary="Send one message (cascade over its channels)",
    response_model=MessageIdResponse,
    responses=_errors,
    openapi_extra=request_body(SingleRequest, example=_SINGLE),
)
async def send_single(account: AccountState = Account, body: Any = Body) -> OrjsonResponse:
    job = SendingService(account).send_single(body)
    return OrjsonResponse({"message_id": job.message_id(0)})


@router.post(
    "/{client_id}/batch",
    summary="Mass send, one text per recipient (async)",
    response_model=JobIdResponse,
    responses=_errors,
    openapi_extra=request_body(BatchRequest, example=_BATCH),
)
async def send_batch(account: AccountState = Account, body: Any = Body) -> OrjsonResponse:
    job = SendingService(account).send_batch(body, defer=True)
    return OrjsonResponse({"job_id": job.job_id})


@router.post(
    "/{client_id}/batch/sync",
    summary="Mass send, one text per recipient (answer per recipient)",
    response_model=SyncResponse,
    responses=_errors,
    openapi_extra=request_body(BatchRequest, example=_BATCH),
)
async def send_batch_sync(account: AccountState = Account, body: Any = Body) -> OrjsonResponse:
    return _sync(account, SendingService(account).send_batch(body))


@router.post(
    "/{client_id}/broadcast",
    summary="Mass send with %key% personalisation (async)",
    response_model=JobIdResponse,
    responses=_errors,
    openapi_extra=request_body(BroadcastRequest, example=_BROADCAST),
)
async def send_broadcast(account: AccountState = Account, body: Any = Body) -> OrjsonResponse:
    job = SendingService(account).send_broadcast(body, defer=True)
    return OrjsonResponse({"job_id": job.job_id})


@router.post(
    "/{client_id}/broadcast/sync",
    summary="Mass send with %key% personalisation (answer per recipient)",
    response_model=SyncResponse,
    responses=_errors,
    openapi_extra=request_body(BroadcastRequest, example=_BROADCAST),
)
async def send_broadcast_sync(account: AccountState = Account, body: Any = Body) -> OrjsonResponse:
    return _sync(account, SendingService(account).send_broadcast(body))
