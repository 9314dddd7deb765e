"""Callback benchmark: how fast a mock_hyber server POSTs delivery reports to a local receiver,
one report per request (callback_mode=single) and 100 per request (callback_mode=batched).

    .venv/bin/python bench/bench_callbacks.py            # 20,000 single, 100,000 batched
    .venv/bin/python bench/bench_callbacks.py --smoke    # 500 single, 2,000 batched, 1 run
    .venv/bin/python bench/bench_callbacks.py --concurrency 8,32,64   # a sweep

Three processes: this one, the server (`python -m mock_hyber serve`, frozen virtual clock) and
a minimal HTTP/1.1 keep-alive receiver (this file with --receiver-port) that counts requests
and reports and answers 200 with an empty body. N messages to the magic number 380000000001
(delivered 1 s after sending) are sent by /1001/batch with the receiver as callback_url, then
planned; the clock is advanced 400 s by POST /_mock/clock/advance, and the time runs from that
request until the receiver holds all N reports. That includes the engine's run of the due
moments (the advance request itself, shown apart) and building the report bodies.

Targets (2,000 reports/s single, 20,000 batched) are reported, not asserted: the exit status is
0 whether a case meets its target or not, and non-zero only on an error (a request failing, a
report missing or failed, or the receiver not seeing every report within --timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from processes import BenchFailure, child, cpu_seconds, free_port

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID = "1001"
AUTH = ("hyber", "hyber")  # the default account of Settings()
PHONE = 380000000001  # magic: delivered on the first channel 1 s after sending
BATCH_MAX = 50_000  # the API's max_recipients
ADVANCE_S = 400  # past the sms ttl (300 s): every message is final by then
CLOCK_START = "2026-01-01T00:00:00Z"
TARGETS = {"single": 2_000.0, "batched": 20_000.0}  # reports per second
FULL = {"single": 20_000, "batched": 100_000}
SMOKE = {"single": 500, "batched": 2_000}
POLL_S = 0.05
JSON = {"Content-Type": "application/json"}


# -- the receiver: a separate process -----------------------------------------------------

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
MARKER = b'"message_id"'  # one per report: a report object has exactly one message_id


class Counts:
    """What the receiver saw since its last reset; times are time.monotonic(), which on Linux
    is CLOCK_MONOTONIC, the same clock in every process of the machine."""

    def __init__(self) -> None:
        self.requests = 0
        self.reports = 0
        self.bytes = 0
        self.first: float | None = None
        self.last: float | None = None

    def view(self, connections: int) -> bytes:
        data = dict(vars(self), connections=connections)
        return orjson.dumps(data)


class ReceiverProtocol(asyncio.Protocol):
    """HTTP/1.1 with Content-Length bodies only (what httpx sends for bytes content):
    GET /stats answers the counts as JSON, POST /reset zeroes them first, and any other
    request is counted as a callback (its reports: the `"message_id"` keys of its body)."""

    open_connections = 0
    counts = Counts()

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        ReceiverProtocol.open_connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        ReceiverProtocol.open_connections -= 1

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        replies = []
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = bytes(buffer[:end])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            start = end + 4
            if len(buffer) < start + length:
                break
            body = bytes(buffer[start : start + length])
            del buffer[: start + length]
            method, path = head.split(b" ", 2)[:2]
            replies.append(self.answer(method, path, body))
        if replies and self.transport is not None:
            self.transport.write(b"".join(replies))

    def answer(self, method: bytes, path: bytes, body: bytes) -> bytes:
        counts = ReceiverProtocol.counts
        if path in (b"/stats", b"/reset"):
            if path == b"/reset":  # zero the counts, answer the fresh ones
                counts = ReceiverProtocol.counts = Counts()
            data = counts.view(ReceiverProtocol.open_connections)
            head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            return f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data
        now = time.monotonic()
        if counts.first is None:
            counts.first = now
        counts.last = now
        counts.requests += 1
        counts.reports += body.count(MARKER)
        counts.bytes += len(body)
        return OK


def run_receiver(port: int) -> None:
    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(ReceiverProtocol, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


# -- processes ----------------------------------------------------------------------------


def server_env(mode: str, concurrency: int | None, batch_size: int) -> dict[str, str]:
    # The default account (1001, hyber:hyber): no inherited MOCK_HYBER_* setting may change it.
    env = {key: value for key, value in os.environ.items() if not key.startswith("MOCK_HYBER_")}
    env.update(
        MOCK_HYBER_CLOCK_FROZEN="true",
        MOCK_HYBER_CLOCK_START=CLOCK_START,
        MOCK_HYBER_CALLBACK_MODE=mode,
        MOCK_HYBER_CALLBACK_BATCH_SIZE=str(batch_size),
    )
    if concurrency is not None:
        env["MOCK_HYBER_CALLBACK_CONCURRENCY"] = str(concurrency)
    return env


# -- one case -----------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float  # from the advance request until the receiver held the last report
    advance_s: float  # the advance request alone (the engine's run of every due moment)
    requests: int
    server_cpu: float | None
    receiver_cpu: float | None


@dataclass
class Result:
    mode: str
    concurrency: int | None
    reports: int
    batch_size: int
    runs: list[Run] = field(default_factory=list)

    @property
    def median(self) -> Run:
        """The run of median time (the lower middle one for an even count)."""
        ordered = sorted(self.runs, key=lambda run: run.seconds)
        return ordered[(len(ordered) - 1) // 2]

    @property
    def rate(self) -> float:
        return self.reports / self.median.seconds

    @property
    def best_rate(self) -> float:
        return self.reports / min(run.seconds for run in self.runs)

    @property
    def per_cpu(self) -> str:
        """Reports per second of server CPU time (median run): the rate with a core to itself,
        hardly moved by other work on the machine, unlike the wall-clock rate."""
        cpu = self.median.server_cpu
        return f"{self.reports / cpu:,.0f}" if cpu else "-"

    @property
    def target(self) -> float:
        return TARGETS[self.mode]

    @property
    def verdict(self) -> str:
        return "PASS" if self.rate >= self.target else "MISS"


def _check(response: httpx.Response, what: str) -> Any:
    if response.status_code != 200:
        raise BenchFailure(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    return orjson.loads(response.content)


def batch_body(first: int, count: int, callback_url: str) -> bytes:
    """`count` sms messages to the magic delivered number, with distinct extra_id and text."""
    return orjson.dumps(
        {
            "messages": [
                {"phone_number": PHONE, "extra_id": f"CB-{i}", "text": f"Callback bench #{i}"}
                for i in range(first, first + count)
            ],
            "callback_url": callback_url,
            "channels": ["sms"],
            "channel_options": {"sms": {"alpha_name": "GMSU", "ttl": 300}},
        }
    )


class Case:
    def __init__(
        self,
        server: httpx.Client,
        receiver: httpx.Client,
        pids: tuple[int, int],
        callback_url: str,
        timeout: float,
    ) -> None:
        self.server = server
        self.receiver = receiver
        self.server_pid, self.receiver_pid = pids
        self.callback_url = callback_url
        self.timeout = timeout

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = _check(self.receiver.get("/stats"), "GET receiver /stats")
        return data

    def prepare(self, count: int) -> None:
        """A clean server and receiver, `count` messages accepted and planned, none final."""
        _check(self.server.post("/_mock/reset"), "POST /_mock/reset")
        _check(self.receiver.post("/reset"), "POST receiver /reset")
        for first in range(0, count, BATCH_MAX):
            size = min(BATCH_MAX, count - first)
            body = batch_body(first, size, self.callback_url)
            answer = _check(
                self.server.post(f"/{CLIENT_ID}/batch", content=body, headers=JSON), "batch"
            )
            if not isinstance(answer, dict) or not answer.get("job_id"):
                raise BenchFailure(f"POST /{CLIENT_ID}/batch: no job_id in {str(answer)[:200]}")
        # The engine starts the jobs (plans every message) in the background: wait for it, so
        # the timed part holds only the moments made due by the advance.
        deadline = time.monotonic() + self.timeout
        while True:
            clock = _check(self.server.get("/_mock/clock"), "GET /_mock/clock")["clocks"][CLIENT_ID]
            if clock["next_event_ms"] is not None and clock["next_event_ms"] > clock["now_ms"]:
                break
            if time.monotonic() > deadline:
                raise BenchFailure(f"the {count:,} messages were not planned in time: {clock}")
            time.sleep(POLL_S)
        if clock["pending_events"] != count:
            raise BenchFailure(f"{clock['pending_events']} pending events for {count} messages")
        if self.stats()["reports"]:
            raise BenchFailure("the receiver got reports before the clock moved")

    def run(self, count: int, expected_requests: int) -> Run:
        self.prepare(count)
        cpu = cpu_seconds(self.server_pid), cpu_seconds(self.receiver_pid)
        started = time.monotonic()
        _check(self.server.post("/_mock/clock/advance", json={"seconds": ADVANCE_S}), "advance")
        advanced = time.monotonic()
        deadline = started + self.timeout
        while True:
            stats = self.stats()
            if stats["reports"] >= count:
                break
            if time.monotonic() > deadline:
                raise BenchFailure(
                    f"the receiver got {stats['reports']:,} of {count:,} reports "
                    f"in {self.timeout:.0f} s"
                )
            time.sleep(POLL_S)
        cpu_after = cpu_seconds(self.server_pid), cpu_seconds(self.receiver_pid)
        self.verify(count, expected_requests)
        stats = self.stats()  # again: a duplicate would show up here
        if stats["reports"] != count or stats["requests"] != expected_requests:
            raise BenchFailure(
                f"the receiver got {stats['reports']:,} reports in {stats['requests']:,} "
                f"requests; expected {count:,} in {expected_requests:,}"
            )
        used = [
            after - before if before is not None and after is not None else None
            for before, after in zip(cpu, cpu_after, strict=True)
        ]
        return Run(stats["last"] - started, advanced - started, stats["requests"], *used)

    def verify(self, count: int, expected_requests: int) -> None:
        """The server's own log: every delivery delivered, none failed, pending or dropped. The
        receiver counts a request before it answers, so the server may record the last few
        attempts a moment later: its counts are polled until nothing is pending or queued."""
        deadline = time.monotonic() + 10
        while True:
            totals = {}
            for status in ("delivered", "failed", "pending", "queued", "dropped"):
                params = {"status": status, "limit": 0, "body": "false"}
                answer = _check(self.server.get("/_mock/callbacks", params=params), "callbacks")
                totals[status] = answer["total"]
            if not (totals["pending"] or totals["queued"]) or time.monotonic() > deadline:
                break
            time.sleep(POLL_S)
        wanted = {"delivered": expected_requests, "failed": 0, "pending": 0, "queued": 0}
        wanted["dropped"] = 0
        if totals != wanted:
            raise BenchFailure(f"GET /_mock/callbacks: {totals}, expected {wanted} ({count:,})")


def bench_mode(
    mode: str, count: int, concurrency: int | None, batch_size: int, runs: int, timeout: float
) -> Result:
    """One server process (and one receiver) for a warm-up and `runs` timed runs."""
    per_request = batch_size if mode == "batched" else 1
    if count % per_request:
        raise BenchFailure(f"{count} reports do not fill batches of {per_request}")
    expected_requests = count // per_request
    result = Result(mode, concurrency, count, per_request)
    receiver_port, server_port = free_port(), free_port()
    receiver_url = f"http://127.0.0.1:{receiver_port}"
    server_url = f"http://127.0.0.1:{server_port}"
    receiver_cmd = [sys.executable, str(Path(__file__).resolve())]
    receiver_cmd += ["--receiver-port", str(receiver_port)]
    server_cmd = [sys.executable, "-m", "mock_hyber", "serve", "--port", str(server_port)]
    server_cmd += ["--seed", "1", "--log-level", "warning"]
    with (
        child(receiver_cmd, dict(os.environ), f"{receiver_url}/stats") as receiver_pid,
        child(
            server_cmd,
            server_env(mode, concurrency, batch_size),
            f"{server_url}/_mock/health",
        ) as server_pid,
        httpx.Client(base_url=server_url, auth=AUTH, timeout=300) as server,
        httpx.Client(base_url=receiver_url, timeout=10) as receiver,
    ):
        case = Case(server, receiver, (server_pid, receiver_pid), f"{receiver_url}/dr", timeout)
        # A warm-up of a tenth of the size first: connections, imports, first allocations.
        warm_up = max(per_request, count // 10 // per_request * per_request)
        case.run(warm_up, warm_up // per_request)
        for _ in range(runs):
            result.runs.append(case.run(count, expected_requests))
        _check(server.post("/_mock/reset"), "POST /_mock/reset")
    return result


# -- report -------------------------------------------------------------------------------


def _cpu(values: list[float | None]) -> str:
    known = [value for value in values if value is not None]
    return f"{statistics.median(known):.2f}" if known else "-"


def table(results: list[Result], markdown: bool = False) -> str:
    head = ["mode", "concurrency", "reports", "requests", "advance s", "seconds", "reports/s"]
    head += ["best reports/s", "server CPU s", "reports/CPU s", "receiver CPU s", "target"]
    head += ["result"]
    rows = []
    for r in results:
        median = r.median
        rows.append(
            [
                r.mode if r.mode == "single" else f"batched x{r.batch_size}",
                str(r.concurrency) if r.concurrency is not None else "default",
                f"{r.reports:,}",
                f"{median.requests:,}",
                f"{median.advance_s:.3f}",
                f"{median.seconds:.3f}",
                f"{r.rate:,.0f}",
                f"{r.best_rate:,.0f}",
                _cpu([run.server_cpu for run in r.runs]),
                r.per_cpu,
                _cpu([run.receiver_cpu for run in r.runs]),
                f"{r.target:,.0f}",
                r.verdict,
            ]
        )
    if markdown:
        lines = ["| " + " | ".join(head) + " |"]
        lines.append("|" + "|".join(["---", *["---:"] * 11, "---"]) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(cell)) for cell in column) for column in zip(head, *rows, strict=True)]
    right = set(range(1, 12))

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), rule, *(line(row) for row in rows)])


def _load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


def _concurrencies(text: str | None) -> list[int | None]:
    if not text:
        return [None]  # the server's default (callback_concurrency, 32)
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="500 single, 2,000 batched, 1 run")
    parser.add_argument("--modes", default="single,batched", help="single,batched (default)")
    parser.add_argument("--single", type=int, help="reports in single mode (default 20,000)")
    parser.add_argument("--batched", type=int, help="reports in batched mode (default 100,000)")
    parser.add_argument("--batch-size", type=int, default=100, help="callback_batch_size")
    parser.add_argument(
        "--concurrency", help="callback_concurrency values, comma-separated (default: 32)"
    )
    parser.add_argument("--runs", type=int, help="timed runs per case after a warm-up (default 3)")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds per run at most (300)"
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--receiver-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.receiver_port:
        run_receiver(args.receiver_port)
        return 0
    sizes = dict(SMOKE if args.smoke else FULL)
    for mode in sizes:
        if getattr(args, mode) is not None:
            sizes[mode] = getattr(args, mode)
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if unknown := set(modes) - set(TARGETS):
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    runs = args.runs or (1 if args.smoke else 3)

    print(
        f"bench_callbacks: {', '.join(f'{sizes[m]:,} {m}' for m in modes)}; median of {runs} "
        f"run(s) after a 1/10-size warm-up; python {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s)"
    )
    print(f"load average at start: {_load()}")
    results: list[Result] = []
    try:
        for concurrency in _concurrencies(args.concurrency):
            for mode in modes:
                result = bench_mode(
                    mode, sizes[mode], concurrency, args.batch_size, runs, args.timeout
                )
                results.append(result)
                print(
                    f"  {mode} (concurrency {concurrency or 'default'}): "
                    f"{result.rate:,.0f} reports/s",
                    flush=True,
                )
    except (BenchFailure, httpx.HTTPError) as exc:
        print(f"bench_callbacks: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"load average at end: {_load()}\n")
    print(table(results, markdown=args.markdown))
    misses = sum(r.verdict == "MISS" for r in results)
    print(f"\n{len(results) - misses}/{len(results)} cases at or above their target rate")
    print("(targets are reported, not asserted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
