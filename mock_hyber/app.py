"""create_app(settings) -> the FastAPI application: provider routes, control plane, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from mock_hyber.api import control, control_fidelity, control_settings, reports, sending
from mock_hyber.api import metrics as metrics_route
from mock_hyber.api.dispatch import ProviderTable
from mock_hyber.api.docs import install_docs
from mock_hyber.api.errors import install_error_handlers
from mock_hyber.api.middleware import Gateway
from mock_hyber.api.openapi import install_openapi, operation_id
from mock_hyber.config import Settings
from mock_hyber.loops import Loops
from mock_hyber.metrics import Metrics
from mock_hyber.state import Backend
from mock_hyber.ui import install_ui

if TYPE_CHECKING:
    import httpx


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    loops = Loops(
        app.state.backend,
        app.state.metrics,
        app.state.callback_transport,
        freeze_held_data=app.state.owns_process,
    )
    app.state.runner, app.state.dispatcher = loops.runner, loops.dispatcher
    app.state.loops = loops
    await loops.start()
    try:
        yield
    finally:
        await loops.stop()


class MockHyberApp(FastAPI):
    """FastAPI with the one ASGI layer (`api.middleware.Gateway`) in front of its whole stack:
    provider requests never enter FastAPI's own middleware, routing or dependencies."""

    gateway: Gateway | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        scope["app"] = self
        if self.gateway is None:
            await super().__call__(scope, receive, send)
        else:
            await self.gateway(scope, receive, send)

    async def call_fastapi(self, scope: Any, receive: Any, send: Any) -> None:
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None, callback_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """The app. `callback_transport` replaces the network for callbacks (unit tests)."""
    settings = settings or Settings()
    app = MockHyberApp(
        title="mock_hyber",
        version=_version(),
        description="A stateful simulator of the GMS Hyber JSON V2 messaging API.",
        lifespan=lifespan,
        docs_url=None,  # served from packaged assets by install_docs
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.callback_transport = callback_transport
    # `mock-hyber serve` owns its process and may tune its garbage collector; a server
    # embedded in another program (LiveServer, the pytest plugin) leaves it alone.
    app.state.owns_process = False
    app.state.backend = Backend(settings)
    app.state.metrics = Metrics(app.state.backend)
    install_error_handlers(app)
    # One ASGI layer: token, body limit, API faults, metrics; it serves the provider endpoints
    # itself (the routes of sending and reports) and hands everything else to FastAPI.
    app.gateway = Gateway(
        app.call_fastapi,
        backend=app.state.backend,
        metrics=app.state.metrics,
        provider=ProviderTable([*sending.router.routes, *reports.router.routes]),
        token=settings.admin_token,
        limit=settings.max_body_bytes,
        body_timeout=settings.body_timeout,
    )
    # The control plane first: its fixed paths must win over the provider's /{client_id}.
    app.include_router(control.router)
    app.include_router(control_settings.router)
    app.include_router(control_fidelity.router)
    install_ui(app)  # the dashboard: / and /ui/...
    app.include_router(sending.router)
    app.include_router(reports.router)
    app.include_router(metrics_route.router)
    install_openapi(app)
    install_docs(app)
    return app


def _version() -> str:
    from mock_hyber.version import __version__

    return __version__
