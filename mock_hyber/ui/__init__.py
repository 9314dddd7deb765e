"""The web dashboard at / and /ui/...: Jinja2 pages and their static files, shipped with the
package (it works offline)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from mock_hyber.ui.pages import router


def install_ui(app: FastAPI) -> None:
    app.mount("/ui/static", StaticFiles(packages=[("mock_hyber.ui", "static")]), name="ui-static")
    app.include_router(router)
