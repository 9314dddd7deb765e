"""A mock_hyber server as a real separate process (`python -m mock_hyber serve`), for the tests
that need what a thread cannot give: SIGKILL and SIGTERM, a restart on the same database, the
process's own log output and exit status.

    with ServerProcess(tmp_path, MOCK_HYBER_STORE=f"sqlite:///{tmp_path}/mock.db") as server:
        httpx.get(server.url + "/_mock/health")
        server.kill()      # SIGKILL: no flush, no shutdown
        server.start()     # the same settings again (a new port)

Output goes to files (never pipes, which could fill up and block the server); every wait is
bounded. Only loopback: the server listens on 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx

from mock_hyber.testing.server import free_port

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 45.0  # importing FastAPI & co. takes 2-3 s here, much more on a busy machine


class ServerProcess:
    def __init__(self, log_dir: Path, **env: str) -> None:
        self.log_dir = log_dir
        self.env = env
        self.args: list[str] = []  # more `serve` options, e.g. ["--repair"]
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.runs = 0
        self._files: list[IO[bytes]] = []

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = START_TIMEOUT, **env: str) -> ServerProcess:
        """Start (again), with `env` on top of the constructor's; wait for /_mock/health."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self._close_files()
        self.runs += 1
        self.port = free_port()
        environment = {k: v for k, v in os.environ.items() if not k.startswith("MOCK_HYBER_")}
        environment.update({**self.env, **env})
        environment.setdefault("MOCK_HYBER_LOG_LEVEL", "warning")
        stdout = (self.log_dir / f"server-{self.runs}.out").open("wb")
        stderr = (self.log_dir / f"server-{self.runs}.err").open("wb")
        self._files = [stdout, stderr]
        command = [sys.executable, "-m", "mock_hyber", "serve", "--port", str(self.port)]
        command += self.args
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=stdout, stderr=stderr
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.err}")
            try:
                if httpx.get(self.url + "/_mock/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the server did not answer within {timeout} s:\n{self.err}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush or shut down."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self._close_files()

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait for the exit; returns the exit status (-N: killed by signal N)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._close_files()
        return code

    def _close_files(self) -> None:
        for file in self._files:
            file.close()
        self._files = []

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()

    # -- output ---------------------------------------------------------------------------

    def _read(self, suffix: str, run: int | None) -> str:
        runs = range(1, self.runs + 1) if run is None else [run]
        texts = []
        for number in runs:
            path = self.log_dir / f"server-{number}.{suffix}"
            if path.exists():
                texts.append(path.read_text(errors="replace"))
        return "".join(texts)

    @property
    def out(self) -> str:
        """Everything every run wrote to stdout."""
        return self._read("out", None)

    @property
    def err(self) -> str:
        """Everything every run wrote to stderr."""
        return self._read("err", None)

    # -- requests -------------------------------------------------------------------------

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 30), **kwargs)


def wait_until(condition: Any, timeout: float, interval: float = 0.1, what: str = "") -> Any:
    """Call `condition()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {what or condition}")
        time.sleep(interval)
