"""The runtime settings of an account: its callback options (`/_mock/settings`).

They start as the start-up configuration (the account's own options over the server-wide
ones), change with PATCH, and come back to the start-up values with `POST /_mock/reset`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from mock_hyber.api.control_inputs import json_object, validated
from mock_hyber.api.deps import backend_of
from mock_hyber.api.openapi import request_body
from mock_hyber.api.responses import OrjsonResponse
from mock_hyber.config import AccountOptions
from mock_hyber.schemas.control import AccountSettingsResponse
from mock_hyber.service.validation import check_callback_url
from mock_hyber.state import AccountState

router = APIRouter(prefix="/_mock", tags=["control"])


def _settings(accounts: list[AccountState]) -> OrjsonResponse:
    return OrjsonResponse({"settings": {a.client_id: a.options() for a in accounts}})


@router.get(
    "/settings",
    summary="The callback settings in force, per account (or ?client_id=)",
    response_model=AccountSettingsResponse,
)
async def get_settings(request: Request, client_id: str | None = None) -> OrjsonResponse:
    return _settings(backend_of(request).accounts_named(client_id))


@router.patch(
    "/settings",
    summary="Change callback settings of one account (?client_id=) or all, from now on",
    response_model=AccountSettingsResponse,
    openapi_extra=request_body(AccountOptions, example={"callback_mode": "batched"}),
)
async def patch_settings(request: Request, client_id: str | None = None) -> OrjsonResponse:
    # Everything is checked before anything changes: a refusal leaves every account as it was.
    change = validated(AccountOptions, await json_object(request))
    backend = backend_of(request)
    accounts = backend.accounts_named(client_id)
    check_callback_url(change.inbound_url, backend.destinations, name="inbound_url")
    given = {name: getattr(change, name) for name in change.model_fields_set}
    for account in accounts:
        account.use_account(account.account.model_copy(update=given))
    return _settings(accounts)
