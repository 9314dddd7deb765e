"""What the control routes (/_mock) read from a request: its JSON object body, and that body
checked against a model, each refusal a Hyber-shaped error."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError

from mock_hyber.errors import HyberError

Model = TypeVar("Model", bound=BaseModel)


async def json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise HyberError.named("malformed_json", str(exc)) from None
    if not isinstance(data, dict):
        raise HyberError.named("invalid_parameter", "the body must be a JSON object")
    return data


def validated(model: type[Model], data: Any) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise HyberError.named("invalid_parameter", f"{where}: {first['msg']}") from None
