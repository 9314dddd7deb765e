"""Child processes of the benchmarks: a free port, a server or receiver started and stopped
around a block, and its CPU time. Imported by the bench scripts (never the app itself, so a
benchmark process does not load the server)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


class BenchFailure(Exception):
    """Something failed (not a missed target): the benchmark exits non-zero."""


def free_port() -> int:
    # As mock_hyber.testing.server.free_port; not imported, so this process never loads the app.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def child(
    command: list[str], env: dict[str, str], probe: str, timeout: float = 30.0
) -> Iterator[int]:
    """A child process, yielded (its pid) once GET `probe` answers 200; stopped on exit. On a
    failure, the tail of its output is shown."""
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(probe, proc, timeout)
            yield proc.pid
        except BaseException:
            log.seek(0)
            sys.stderr.write(f"--- log of {' '.join(command)} ---\n{log.read()[-5000:]}\n")
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(probe: str, proc: subprocess.Popen[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchFailure(f"{proc.args!r} exited with status {proc.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(probe, timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise BenchFailure(f"{probe} did not answer within {timeout:.0f} s")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None elsewhere). Unlike wall
    time it hardly moves when other work shares the machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
