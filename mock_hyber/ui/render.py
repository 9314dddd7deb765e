"""Jinja2 with autoescaping on for every template: whatever came from a request (texts,
extra_ids, URLs, errors) shows as text, never as HTML."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from mock_hyber.version import __version__

_env = Environment(
    loader=PackageLoader("mock_hyber.ui", "templates"),
    autoescape=True,  # every template, whatever its name
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["pretty"] = lambda value: orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
_env.filters["thousands"] = lambda value: f"{value:,}"
_env.globals["version"] = __version__

FRAGMENT_HEADER = "x-ui-fragment"  # the page's script asks for the live part alone


def page(
    name: str, context: dict[str, Any], fragment: bool = False, status_code: int = 200
) -> HTMLResponse:
    """The whole page, or only its `live` block when the page refreshes itself."""
    template = _env.get_template(name)
    if fragment and "live" in template.blocks:
        html = "".join(template.blocks["live"](template.new_context(context)))
    else:
        html = template.render(context)
    return HTMLResponse(html, status_code=status_code, headers={"cache-control": "no-store"})
