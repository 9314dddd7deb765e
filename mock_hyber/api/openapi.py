"""OpenAPI for routes that parse their own body: the request models are added as components."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from mock_hyber.schemas.requests import BatchRequest, BroadcastRequest, SingleRequest

REQUEST_MODELS = (SingleRequest, BatchRequest, BroadcastRequest)
_REF = "#/components/schemas/{model}"


def request_body(model_name: str) -> dict[str, Any]:
    schema = {"$ref": _REF.format(model=model_name)}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _, definitions = models_json_schema(
                [(model, "validation") for model in REQUEST_MODELS], ref_template=_REF
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(definitions.get("$defs", {}))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
