"""The OpenAPI description, made to tell the truth about the wire.

FastAPI's generated description is corrected in one place, here:
- routes that parse their own body name their request model (`request_body`); the models are
  added as components;
- FastAPI's 422 `HTTPValidationError` goes: bad input gets the Hyber error body with the status
  each operation can really answer (400, 401, 404, 408, 413, 415, and what routes declare);
- HTTP Basic is declared on the provider operations, and the admin token on the control plane
  when one is set;
- operation ids are short and stable (`sendBatch`, `advanceClock`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from mock_hyber.api.middleware import guarded
from mock_hyber.schemas.responses import ErrorBody

JSON = "application/json"
_REF = "#/components/schemas/{model}"
_ERROR_REF = {"$ref": _REF.format(model="ErrorBody")}
_BODY_MODELS: dict[str, type[BaseModel]] = {"ErrorBody": ErrorBody}

# Operation ids that read better than the endpoint function's name in camelCase.
OPERATION_IDS = {
    "health": "getHealth",
    "magic": "listMagicNumbers",
    "codes": "getCodes",
    "transition": "transitionMessage",
    "inbound": "simulateInbound",
    "metrics": "getMetrics",
    "campaign_status": "getStatus",
    "simple_dr": "getSimpleReport",
    "advanced_dr": "getAdvancedReport",
    "simple_dr_external": "getSimpleReportByExtraId",
    "advanced_dr_external": "getAdvancedReportByExtraId",
}

ERROR_DESCRIPTIONS = {
    400: "Bad request: malformed JSON, or a parameter missing, of the wrong type or out of range",
    401: "Missing or wrong credentials",
    404: "No such account, job, message or delivery",
    408: "The request body stopped arriving for body_timeout seconds",
    409: "The change is not possible in the current state",
    413: "The request body is larger than max_body_bytes",
    415: "Content-Type is not application/json",
    429: "Too many requests of this kind at once",
}

DESCRIPTION = """
Every error is answered with the Hyber error body `{"error_code": N, "error_text": "..."}`.
Each operation lists the statuses it can answer. Besides those, any path answers 405 to a
method it does not take, and API faults set through `PUT /_mock/faults` make provider
operations answer whatever status the fault names.

The sending bodies are described in their documented form; like the real API, the server also
tolerates what real clients send: numbers for string fields, numeric strings for numbers,
unknown and legacy fields.
"""


def request_body(
    model: type[BaseModel],
    *,
    required: bool = True,
    media_types: Iterable[str] = (JSON,),
    example: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its own body: the body follows `model`, and
    `example` is one the server accepts (Swagger UI shows it; schemathesis sends it)."""
    _BODY_MODELS[model.__name__] = model
    media: dict[str, Any] = {"schema": {"$ref": _REF.format(model=model.__name__)}}
    if example is not None:
        media["example"] = example
    content = {media_type: media for media_type in media_types}
    return {"requestBody": {"required": required, "content": content}}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses` for a route: these statuses, each with the Hyber error body."""
    return {
        status: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }


def operation_id(route: APIRoute) -> str:
    """The short, stable id of a route's operation (`generate_unique_id_function`)."""
    if route.name in OPERATION_IDS:
        return OPERATION_IDS[route.name]
    head, *rest = route.name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _plain_string(schema: dict[str, Any]) -> bool:
    """Whether any value of the parameter is valid (an optional string without constraints)."""
    options = schema.get("anyOf", [schema])
    informative = {"title", "description", "default"}
    return all(
        option.get("type") in ("string", "null") and set(option) - informative <= {"type"}
        for option in options
    ) and set(schema) - informative - {"anyOf"} <= {"type"}


def _statuses(path: str, operation: dict[str, Any], token: bool) -> set[int]:
    """What the operation can answer with the Hyber error body, besides what routes declare."""
    statuses = {int(code) for code in operation["responses"] if code.isdigit() and code >= "400"}
    params = operation.get("parameters", [])
    provider = path.startswith("/{client_id}")
    if "requestBody" in operation:
        statuses |= {400, 408, 413}
        if provider:
            statuses.add(415)
    if provider:
        statuses |= {401, 404}
    if any(not _plain_string(p.get("schema", {})) for p in params):
        statuses.add(400)
    if any(p["in"] == "path" or p["name"] == "client_id" for p in params):
        statuses.add(404)
    if token and guarded(path):
        statuses.add(401)
    return statuses


def _fix_operation(path: str, operation: dict[str, Any], token: bool) -> None:
    responses = operation["responses"]
    responses.pop("422", None)
    for status in sorted(_statuses(path, operation, token)):
        declared = responses.get(str(status), {})
        if _has_own_schema(declared):  # e.g. the health check's 503: its own body
            continue
        description = declared.get("description") or ERROR_DESCRIPTIONS.get(status, "Error")
        responses[str(status)] = {
            "description": description,
            "content": {JSON: {"schema": _ERROR_REF}},
        }
    for param in operation.get("parameters", []):
        if param["name"] == "client_id" and param["in"] == "path":
            param["schema"] = {**param["schema"], "pattern": "^[0-9]+$"}
    if path.startswith("/{client_id}"):
        operation["security"] = [{"basicAuth": []}]
    elif token and guarded(path):
        operation["security"] = [{"adminToken": []}, {"adminTokenHeader": []}]


def _has_own_schema(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get(JSON, {}).get("schema")
    return schema is not None and schema != _ERROR_REF


def _security_schemes(token: bool) -> dict[str, Any]:
    schemes: dict[str, Any] = {
        "basicAuth": {
            "type": "http",
            "scheme": "basic",
            "description": "the account's login and password; the path's client_id names it",
        }
    }
    if token:
        schemes["adminToken"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "MOCK_HYBER_ADMIN_TOKEN, as `Authorization: Bearer <token>`",
        }
        schemes["adminTokenHeader"] = {
            "type": "apiKey",
            "in": "header",
            "name": "X-Mock-Hyber-Token",
            "description": "MOCK_HYBER_ADMIN_TOKEN, in its own header",
        }
    return schemes


def build_openapi(app: FastAPI, token: bool) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=(app.description or "") + "\n" + DESCRIPTION,
        routes=app.routes,
    )
    _, definitions = models_json_schema(
        [(model, "validation") for model in _BODY_MODELS.values()], ref_template=_REF
    )
    components = schema.setdefault("components", {})
    models = components.setdefault("schemas", {})
    models.update(definitions.get("$defs", {}))
    for name in ("HTTPValidationError", "ValidationError"):
        models.pop(name, None)
    components["securitySchemes"] = _security_schemes(token)
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            _fix_operation(path, operation, token)
    return schema


def install_openapi(app: FastAPI) -> None:
    token = bool(app.state.settings.admin_token)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, token)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
