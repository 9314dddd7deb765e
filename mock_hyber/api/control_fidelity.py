"""Control routes of the fidelity work (issue 12), under /_mock: each account's Viber template
registry, and its WhatsApp sessions."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from mock_hyber.api.deps import backend_of
from mock_hyber.api.openapi import errors, request_body
from mock_hyber.api.responses import OrjsonResponse
from mock_hyber.config import ViberTemplateSetting
from mock_hyber.engine.clock import iso_ms as iso
from mock_hyber.engine.planner import SESSION_MS
from mock_hyber.engine.viber_templates import ViberTemplates
from mock_hyber.errors import HyberError
from mock_hyber.schemas.control import (
    ViberTemplatesResponse,
    ViberTemplatesUpdate,
    WhatsAppSessionsResponse,
)
from mock_hyber.service.phones import normalize_phone

router = APIRouter(prefix="/_mock", tags=["control"])
_TEMPLATES = TypeAdapter(list[ViberTemplateSetting])


def _templates_view(accounts: list[Any]) -> dict[str, Any]:
    return {"viber_templates": {a.client_id: a.viber_templates.describe() for a in accounts}}


@router.get(
    "/viber-templates",
    summary="Each account's registered Viber templates",
    response_model=ViberTemplatesResponse,
)
async def get_viber_templates(request: Request, client_id: str | None = None) -> OrjsonResponse:
    return OrjsonResponse(_templates_view(backend_of(request).accounts_named(client_id)))


@router.put(
    "/viber-templates",
    summary="Replace the Viber template registry, for messages accepted from now on",
    response_model=ViberTemplatesResponse,
    openapi_extra=request_body(
        ViberTemplatesUpdate,
        example={"templates": [{"id": 42, "text": "Your code is {{code}}"}]},
    ),
)
async def put_viber_templates(request: Request, client_id: str | None = None) -> OrjsonResponse:
    accounts = backend_of(request).accounts_named(client_id)
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise HyberError.named("malformed_json") from None
    items = body.get("templates") if isinstance(body, dict) else body
    try:
        parsed = _TEMPLATES.validate_python(items)
        registry = ViberTemplates.parse(item.model_dump() for item in parsed)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise HyberError.named("invalid_parameter", f"templates.{where}: {first['msg']}") from None
    except ValueError as exc:  # duplicate ids
        raise HyberError.named("invalid_parameter", f"templates: {exc}") from None
    for account in accounts:
        account.viber_templates = registry
    return OrjsonResponse(_templates_view(accounts))


# -- WhatsApp sessions ------------------------------------------------------------------------


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str | int = Field(description="the user's number; international, without '+'")
    client_id: str | None = None


def _sessions_view(accounts: list[Any]) -> dict[str, Any]:
    return {
        "whatsapp_sessions": {
            account.client_id: {
                "mode": account.settings.whatsapp_sessions,
                "sessions": [
                    {
                        "phone": phone,
                        "last_message": iso(at_ms),
                        "open_until": iso(at_ms + SESSION_MS),
                        "open": at_ms <= account.clock.now_ms() < at_ms + SESSION_MS,
                    }
                    for phone, at_ms in account.whatsapp_sessions.items()
                ],
            }
            for account in accounts
        }
    }


@router.get(
    "/whatsapp-sessions",
    summary="Each account's WhatsApp sessions (24 h windows)",
    response_model=WhatsAppSessionsResponse,
)
async def get_whatsapp_sessions(request: Request, client_id: str | None = None) -> OrjsonResponse:
    return OrjsonResponse(_sessions_view(backend_of(request).accounts_named(client_id)))


@router.post(
    "/whatsapp-sessions",
    summary="Open a WhatsApp session now, as if the user had written (no reply is posted)",
    response_model=WhatsAppSessionsResponse,
    responses=errors(404),
    openapi_extra=request_body(SessionRequest, example={"phone": "380961111111"}),
)
async def open_whatsapp_session(request: Request) -> OrjsonResponse:
    try:
        body = SessionRequest.model_validate(orjson.loads(await request.body()))
    except orjson.JSONDecodeError:
        raise HyberError.named("malformed_json") from None
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise HyberError.named("invalid_parameter", f"{where}: {first['msg']}") from None
    accounts = backend_of(request).accounts_named(body.client_id)
    for account in accounts:
        phone = normalize_phone(str(body.phone).removeprefix("+"), account.phone_pattern)
        if phone is None:
            raise HyberError.named("invalid_parameter", "phone: not a correct phone number")
        account.open_whatsapp_session(phone, account.clock.now_ms())
    return OrjsonResponse(_sessions_view(accounts))
