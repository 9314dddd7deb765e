"""Soak test: a mock_hyber server under continuous load for a bounded time, with retention on,
to show that its memory stays flat and its store stays within the retention limit.

    .venv/bin/python bench/soak.py                  # 3 minutes
    .venv/bin/python bench/soak.py --seconds 600    # 10 minutes
    .venv/bin/python bench/soak.py --smoke          # 20 s, samples every 2 s, retention
                                                    # 10,000 messages / 200 callbacks,
                                                    # clock speed 100 (a CI check)
    .venv/bin/python bench/soak.py --markdown       # the samples as a Markdown table too

Not a bench_*.py on purpose: bench/run_all.py runs those, and a soak takes minutes.

Three processes, on 127.0.0.1 only: this one (the load and the sampling), the server
(`python -m mock_hyber serve`, default account 1001 hyber:hyber, seed 1) and a minimal
HTTP/1.1 keep-alive receiver for the callbacks (this file with --receiver-port), which counts
requests and reports and answers 200. The server runs with

    MOCK_HYBER_RETENTION_MAX_MESSAGES=50000  (--max-messages)
    MOCK_HYBER_RETENTION_MAX_CALLBACKS=1000  (--max-callbacks: deliveries, i.e. POSTs; batched,
                                              that is about 100,000 reports)
    MOCK_HYBER_RETENTION_INTERVAL=2          MOCK_HYBER_CLOCK_SPEED=50

so a message's whole life (viber ttl 60 s, then sms ttl 300 s: at most 360 virtual seconds)
takes at most 7.2 s of real time, and MOCK_HYBER_CALLBACK_MODE=batched (--callback-mode):
reports go 100 to a POST, since one report per POST runs at a few hundred reports/s on a
small machine, which would hold the load far below 2,000 messages/s. The load: POST
/1001/batch with 2,000 recipients (fresh phone numbers, an extra_id each, one in 20 a magic
number) and the receiver as callback_url, one batch every --interval seconds (default 1:
2,000 messages/s), back to back when a batch takes longer, and paused while more than
--max-backlog callbacks are unfinished (read from /metrics),
so the run measures memory, not a callback queue growing without bound.

Every --sample seconds (default 5) it records the server's resident memory (VmRSS from
/proc/<pid>/status), GET /_mock/health's stored messages, the stored jobs and unfinished
callbacks (/metrics), the callback log's size and what was sent and received so far.

Verdict (printed; the exit status is 0 unless something fails, as for every benchmark, or 1
with --strict when the verdict is FAIL):
- memory flat: every RSS sample of the last third of the run is at most 15% above the RSS
  at the end of the first third (the warm-up, by which retention is in force);
- store bounded: stored messages never exceed the retention limit plus one job (2,000).
After the load stops, it waits (bounded) for the receiver to hold every report.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
from processes import BenchFailure, child, cpu_seconds, free_port
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
AUTH = ("hyber", "hyber")  # the default account
CLIENT_ID = "1001"
MAX_MESSAGES = 50_000
MAX_CALLBACKS = 1_000  # deliveries; with callback_mode batched each holds up to 100 reports
SPEED = 50
LIFE = 360  # virtual seconds: the longest life of a message here (viber ttl 60 + sms ttl 300)
BATCH = 2_000
FLAT_TOLERANCE = 0.15
MAGIC = ["380000000001", "380000000002", "380000000003", "380000000005", "380000000006"]
JSON = {"Content-Type": "application/json"}


# -- the receiver: a separate process ---------------------------------------------------------

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
MARKER = b'"message_id"'  # one per report


class ReceiverProtocol(asyncio.Protocol):
    """HTTP/1.1 with Content-Length bodies: GET /stats answers the counts as JSON; any other
    request is a callback, counted with its reports."""

    requests = 0
    reports = 0

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

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
            path = head.split(b" ", 2)[1]
            if path == b"/stats":
                data = orjson.dumps({"requests": self.requests, "reports": self.reports})
                head_out = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                replies.append(head_out + b"Content-Length: %d\r\n\r\n" % len(data) + data)
            else:
                ReceiverProtocol.requests += 1
                ReceiverProtocol.reports += body.count(MARKER)
                replies.append(OK)
        if replies and self.transport is not None:
            self.transport.write(b"".join(replies))


def run_receiver(port: int) -> None:
    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(ReceiverProtocol, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


# -- processes --------------------------------------------------------------------------------


def server_env(args: argparse.Namespace) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MOCK_HYBER_")}
    env.update(
        MOCK_HYBER_CALLBACK_MODE=args.callback_mode,
        MOCK_HYBER_SEED="1",
        MOCK_HYBER_LOG_LEVEL="warning",
        MOCK_HYBER_CLOCK_SPEED=str(args.speed),
        MOCK_HYBER_RETENTION_MAX_MESSAGES=str(args.max_messages),
        MOCK_HYBER_RETENTION_MAX_CALLBACKS=str(args.max_callbacks),
        MOCK_HYBER_RETENTION_INTERVAL="2",
    )
    return env


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchFailure(f"no VmRSS for pid {pid}")


# -- the load ---------------------------------------------------------------------------------


class Load:
    def __init__(self, http: httpx.Client, callback_url: str, batch: int) -> None:
        self.http = http
        self.callback_url = callback_url
        self.batch = batch
        self.rng = random.Random(1)
        self.next_phone = 0
        self.batches = 0
        self.messages = 0
        self.paused = 0  # times a batch waited for the callback backlog
        self.request_seconds: list[float] = []

    def body(self) -> bytes:
        messages = []
        for n in range(self.batch):
            if n % 20 == 0:
                phone = MAGIC[(self.batches + n // 20) % len(MAGIC)]
            else:
                phone = str(380_500_000_000 + self.next_phone % 400_000_000)
                self.next_phone += 1
            messages.append(
                {"phone_number": phone, "extra_id": f"S{self.batches}-{n}", "text": f"Hi {n}"}
            )
        return orjson.dumps(
            {
                "callback_url": self.callback_url,
                "tag": "soak",
                "channels": ["viber", "sms"],
                "channel_options": {
                    "viber": {"ttl": 60, "text": "Viber text"},
                    "sms": {"ttl": 300, "alpha_name": "SOAK", "text": "SMS text"},
                },
                "messages": messages,
            }
        )

    def send(self) -> None:
        raw = self.body()
        started = time.perf_counter()
        answer = self.http.post(f"/{CLIENT_ID}/batch", content=raw, headers=JSON, auth=AUTH)
        self.request_seconds.append(time.perf_counter() - started)
        if answer.status_code != 200 or "job_id" not in answer.json():
            raise BenchFailure(f"POST /batch -> {answer.status_code} {answer.text[:300]}")
        self.batches += 1
        self.messages += self.batch


def metrics(http: httpx.Client) -> dict[str, float]:
    answer = http.get("/metrics")
    if answer.status_code != 200:
        raise BenchFailure(f"GET /metrics -> {answer.status_code}")
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            # One account: a family's samples summed over their other labels.
            if sample.labels.get("client_id", CLIENT_ID) == CLIENT_ID and "le" not in sample.labels:
                values[sample.name] = values.get(sample.name, 0.0) + sample.value
    return values


def receiver_stats(url: str) -> dict[str, int]:
    stats: dict[str, int] = httpx.get(url + "/stats", timeout=10).json()
    return stats


@dataclass
class Sample:
    t: float
    rss_mb: float
    stored: int
    jobs: int
    unfinished: int
    log_size: int
    sent: int
    received: int
    cpu_s: float


def take_sample(http: httpx.Client, pid: int, started: float, load: Load, receiver: str) -> Sample:
    health = http.get("/_mock/health").json()
    levels = metrics(http)
    log_size = http.get("/_mock/callbacks", params={"limit": 0}).json()["total"]
    return Sample(
        t=time.monotonic() - started,
        rss_mb=rss_mb(pid),
        stored=int(health["messages"]),
        jobs=int(levels.get("mock_hyber_stored_jobs", 0)),
        unfinished=int(levels.get("mock_hyber_pending_callbacks", 0)),
        log_size=int(log_size),
        sent=load.messages,
        received=receiver_stats(receiver)["reports"],
        cpu_s=cpu_seconds(pid) or 0.0,
    )


# -- the verdict ------------------------------------------------------------------------------


@dataclass
class Verdict:
    warmup: Sample
    last_third: list[Sample]
    peak_rss: float
    low_rss: float
    growth: float
    flat: bool
    max_stored: int
    bounded: bool

    @property
    def ok(self) -> bool:
        return self.flat and self.bounded


def judge(samples: list[Sample], seconds: float, batch: int, max_messages: int) -> Verdict:
    warmup = min(samples, key=lambda s: abs(s.t - seconds / 3))
    last_third = [s for s in samples if s.t >= 2 * seconds / 3] or samples[-1:]
    peak = max(s.rss_mb for s in last_third)
    low = min(s.rss_mb for s in last_third)
    growth = peak / warmup.rss_mb - 1
    max_stored = max(s.stored for s in samples)
    return Verdict(
        warmup,
        last_third,
        peak,
        low,
        growth,
        growth <= FLAT_TOLERANCE,
        max_stored,
        max_stored <= max_messages + batch,
    )


def table(samples: list[Sample], markdown: bool) -> str:
    head = ["t (s)", "RSS MB", "stored msgs", "jobs", "unfinished cb", "cb log", "sent", "recv"]
    head.append("server CPU s")
    rows = [
        [
            f"{s.t:.0f}",
            f"{s.rss_mb:.1f}",
            str(s.stored),
            str(s.jobs),
            str(s.unfinished),
            str(s.log_size),
            str(s.sent),
            str(s.received),
            f"{s.cpu_s:.1f}",
        ]
        for s in samples
    ]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(head[i]), *(len(row[i]) for row in rows)) for i in range(len(head))]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------------


def soak(args: argparse.Namespace) -> int:
    receiver_port, server_port = free_port(), free_port()
    receiver = f"http://127.0.0.1:{receiver_port}"
    server = f"http://127.0.0.1:{server_port}"
    print(
        f"soak: {args.seconds:.0f} s, batches of {args.batch} every {args.interval} s, "
        f"samples every {args.sample} s; callbacks {args.callback_mode}; retention "
        f"{args.max_messages} messages / {args.max_callbacks} callbacks every 2 s; "
        f"clock speed {args.speed}",
        flush=True,
    )
    print(
        f"machine: {platform.system()} {platform.release()} {platform.machine()}, "
        f"{os.cpu_count()} CPU, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    receiver_cmd = [sys.executable, str(Path(__file__)), "--receiver-port", str(receiver_port)]
    server_cmd = [sys.executable, "-m", "mock_hyber", "serve", "--port", str(server_port)]
    with (
        child(receiver_cmd, dict(os.environ), receiver + "/stats"),
        child(server_cmd, server_env(args), server + "/_mock/health") as pid,
        httpx.Client(base_url=server, timeout=60) as http,
    ):
        load = Load(http, receiver + "/dr", args.batch)
        samples: list[Sample] = []
        started = time.monotonic()
        next_sample = 0.0
        next_batch = 0.0
        while True:
            now = time.monotonic() - started
            if now >= next_sample:
                sample = take_sample(http, pid, started, load, receiver)
                samples.append(sample)
                print(
                    f"  t={sample.t:5.0f} s  RSS {sample.rss_mb:7.1f} MB  stored "
                    f"{sample.stored:6d}  jobs {sample.jobs:3d}  unfinished callbacks "
                    f"{sample.unfinished:6d}  sent {sample.sent:7d}  received "
                    f"{sample.received:7d}",
                    flush=True,
                )
                next_sample += args.sample
                if now >= args.seconds:
                    break
                continue
            if now >= next_batch and now < args.seconds:
                unfinished = metrics(http).get("mock_hyber_pending_callbacks", 0)
                if unfinished > args.max_backlog:
                    load.paused += 1
                    time.sleep(0.2)
                    continue
                load.send()
                next_batch = max(next_batch + args.interval, now)
                continue
            time.sleep(min(0.05, max(0.0, min(next_sample, next_batch) - now)))

        # Drain: every message still held reaches its end within 360 / speed s (viber's
        # then sms's ttl); then every final status must reach the receiver (one report each:
        # every message has the callback_url). Seen/click moments may follow much later.
        drain_started = time.monotonic()
        time.sleep(LIFE / args.speed + 1)
        while True:
            levels = metrics(http)
            finals = int(levels.get("mock_hyber_messages_final_total", 0))
            received = receiver_stats(receiver)["reports"]
            settled = not levels.get("mock_hyber_pending_callbacks")
            if (settled and received >= finals) or time.monotonic() - drain_started > args.drain:
                break
            time.sleep(0.5)
        drained = time.monotonic() - drain_started
        final = take_sample(http, pid, started, load, receiver)

    verdict = judge(samples, args.seconds, args.batch, args.max_messages)
    median_request = sorted(load.request_seconds)[len(load.request_seconds) // 2]
    print()
    print(table(samples, markdown=False))
    if args.markdown:
        print()
        print(table(samples, markdown=True))
    print()
    print(
        f"sent {load.messages} messages in {load.batches} batches "
        f"({load.messages / args.seconds:.0f} messages/s; median POST /batch "
        f"{median_request * 1000:.0f} ms; paused for the callback backlog {load.paused} times)"
    )
    print(
        f"final statuses: {finals} of {load.messages} messages; "
        f"{load.messages - finals} dropped by retention before their end (none expected while "
        f"a message's life, {LIFE / args.speed:.1f} s, is shorter than the time retention "
        f"keeps it)"
    )
    print(
        f"reports received: {final.received} for {finals} final statuses "
        f"({'all' if final.received >= finals else 'MISSING SOME'}; drained in "
        f"{drained:.1f} s after the load stopped)"
    )
    print(
        f"warm-up RSS (t={verdict.warmup.t:.0f} s): {verdict.warmup.rss_mb:.1f} MB; last third: "
        f"{verdict.low_rss:.1f}-{verdict.peak_rss:.1f} MB ({verdict.growth:+.1%} at its peak; "
        f"limit +{FLAT_TOLERANCE:.0%}): {'flat' if verdict.flat else 'GROWING'}"
    )
    print(
        f"stored messages at most {verdict.max_stored} (limit {args.max_messages} + one job of "
        f"{args.batch}): {'bounded' if verdict.bounded else 'ABOVE THE LIMIT'}"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(f"verdict: {'PASS' if verdict.ok else 'FAIL'}")
    if final.received < finals:
        raise BenchFailure(f"{finals - final.received} reports never reached the receiver")
    return 1 if args.strict and not verdict.ok else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="load duration (180)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="20 s, samples every 2 s, limits 10000/200, speed 100",
    )
    parser.add_argument("--speed", type=float, default=SPEED, help="clock speed (50)")
    parser.add_argument("--max-messages", type=int, default=MAX_MESSAGES, help="retention")
    parser.add_argument("--max-callbacks", type=int, default=MAX_CALLBACKS, help="retention")
    parser.add_argument("--batch", type=int, default=BATCH, help="recipients per batch (2000)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between batches")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--max-backlog", type=int, default=20_000, help="unfinished callbacks")
    parser.add_argument(
        "--callback-mode",
        choices=["batched", "single"],
        default="batched",
        help="the server's callback_mode (batched: 100 reports per POST)",
    )
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to wait for reports")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table too")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the verdict fails")
    parser.add_argument("--receiver-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.receiver_port is not None:
        run_receiver(args.receiver_port)
        return 0
    if args.smoke:
        args.seconds, args.sample = 20.0, 2.0
        args.max_messages, args.max_callbacks = 10_000, 200
        args.speed = 100.0  # lives of at most 3.6 s: shorter than 10,000 messages last
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"=== soak.py {' '.join(sys.argv[1:])} at {stamp}".rstrip(), flush=True)
    try:
        return soak(args)
    except (BenchFailure, httpx.HTTPError) as exc:
        print(f"soak: FAILED: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
