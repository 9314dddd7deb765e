"""A live mock_hyber server in a background thread, on 127.0.0.1 and a free port.

Used by the project's own tests and by the pytest plugin; it never imports pytest.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from mock_hyber.api.http_protocol import with_header_timeout
from mock_hyber.app import create_app
from mock_hyber.config import Settings


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """`with LiveServer(settings) as server: httpx.get(server.url + "/_mock/health")`."""

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        base = settings or Settings()
        port = overrides.pop("port", None) or free_port()
        self.settings = base.model_copy(update={"host": "127.0.0.1", "port": port, **overrides})
        self.app = create_app(self.settings)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            http=with_header_timeout(self.settings.header_timeout),
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    @property
    def backend(self) -> Any:
        return self.app.state.backend

    def start(self, timeout: float = 10.0) -> LiveServer:
        # Server.run: the event loop of the config's loop factory ("auto": uvloop when
        # installed), as `mock-hyber serve` has; no signal handlers outside the main thread.
        self._thread = threading.Thread(target=self._server.run, name="mock-hyber", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("mock_hyber server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServerPool:
    """One LiveServer per distinct Settings, started on first use and kept until `stop()`:
    tests that need other start-up settings get a server of their own, and tests with the
    same settings share one."""

    def __init__(self) -> None:
        self._servers: dict[str, LiveServer] = {}

    def get(self, settings: Settings) -> LiveServer:
        key = settings.model_dump_json()
        server = self._servers.get(key)
        if server is None:
            server = self._servers[key] = LiveServer(settings).start()
        return server

    def __len__(self) -> int:
        return len(self._servers)

    def stop(self) -> None:
        servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.stop()
