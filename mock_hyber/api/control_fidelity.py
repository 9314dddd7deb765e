"""Control routes of the fidelity work (issue 12), under /_mock: each account's Viber template
registry, and its WhatsApp sessions."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import TypeAdapter, ValidationError

from mock_hyber.api.control import _accounts
from mock_hyber.api.deps import backend_of
from mock_hyber.api.responses import OrjsonResponse
from mock_hyber.config import ViberTemplateSetting
from mock_hyber.engine.viber_templates import ViberTemplates
from mock_hyber.errors import HyberError

router = APIRouter(prefix="/_mock", tags=["control"])
_TEMPLATES = TypeAdapter(list[ViberTemplateSetting])


def _templates_view(accounts: list[Any]) -> dict[str, Any]:
    return {"viber_templates": {a.client_id: a.viber_templates.describe() for a in accounts}}


@router.get("/viber-templates", summary="Each account's registered Viber templates")
async def get_viber_templates(request: Request, client_id: str | None = None) -> OrjsonResponse:
    return OrjsonResponse(_templates_view(_accounts(backend_of(request), client_id)))


@router.put(
    "/viber-templates",
    summary="Replace the Viber template registry, for messages accepted from now on",
)
async def put_viber_templates(request: Request, client_id: str | None = None) -> OrjsonResponse:
    accounts = _accounts(backend_of(request), client_id)
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
