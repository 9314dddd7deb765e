"""Staging benchmark (core v2 issue): mock_hyber beside the floor app (bench/floor_app.py: the
bare uvicorn + Starlette + orjson stack) in one run, with a million messages held by the mock
on its running clock while the large requests and the in-flight load are measured.

    .venv/bin/python bench/bench_staging.py              # full size: 1,000,000 held (minutes)
    .venv/bin/python bench/bench_staging.py --smoke      # tiny sizes, a few seconds: a CI check
    .venv/bin/python bench/bench_staging.py --held 200000 --runs 3 --markdown

Processes, each started with `processes.child` (127.0.0.1, a free port):
1. the floor app: time to healthy, idle RSS, the large requests, small broadcasts (wrk);
2. mock A, a fresh `python -m mock_hyber serve --seed 1`: time to healthy, idle RSS, small
   broadcasts on an empty server (wrk);
3. mock B, another fresh one: `--held` messages accepted (broadcasts of `--recipients`), the
   clock advanced a day, and polled until all are final; then, with them held, the large
   requests and the small broadcasts while a broadcast with a `callback_url` (to a local
   receiver) is in flight.

Targets are reported, not asserted: the exit status is non-zero only when something fails (a
non-2xx answer, a wrong answer, a server that does not start, a poll that times out, wrk
missing).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import orjson
from bench_accept import _check, _check_job, _check_messages, _fixture, batch_body
from processes import BenchFailure, child, cpu_seconds, free_port

HERE = Path(__file__).resolve().parent
CLIENT_ID = "1001"
AUTH = ("hyber", "hyber")  # the default account of Settings()
BASIC = "Basic aHliZXI6aHliZXI="  # hyber:hyber
JSON = {"Content-Type": "application/json"}
FIRST_PHONE = 380960000000
DAY = 86400
SETTLE = 3600  # virtual seconds advanced (untimed) after each timed send of the mock

FULL = {"held": 1_000_000, "recipients": 50_000, "runs": 5, "wrk_seconds": 10}
SMOKE = {"held": 2_000, "recipients": 500, "runs": 1, "wrk_seconds": 1}


# -- request bodies -----------------------------------------------------------------------


def broadcast_body(count: int, first: int = 0, callback_url: str | None = None) -> bytes:
    """broadcast_viber_sms.json with `count` recipients from phone FIRST_PHONE + first:
    distinct phones and extra_ids, `name`/`greeting` for the %name%/%greeting% keys. Without
    `callback_url` the fixture's (an unreachable host) is dropped."""
    body = _fixture("broadcast_viber_sms.json")
    body.pop("callback_url", None)
    if callback_url:
        body["callback_url"] = callback_url
    greetings = ("Mr. ", "Ms. ")
    body["recipients"] = [
        {
            "phone_number": FIRST_PHONE + first + i,
            "extra_id": f"AD-{first + i:07d}",
            "name": f"Name{first + i}",
            "greeting": greetings[i % 2],
        }
        for i in range(count)
    ]
    return orjson.dumps(body)


def batch_body_without_callback(count: int) -> bytes:
    body = orjson.loads(batch_body(count))
    body.pop("callback_url", None)
    return orjson.dumps(body)


# -- processes ----------------------------------------------------------------------------


@dataclass
class Started:
    url: str
    pid: int
    healthy_s: float  # from just before Popen until the health probe answered 200
    idle_rss: int = 0  # bytes, 1 s after healthy
    loop: str = "?"
    parser: str = "?"


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise BenchFailure(f"no VmRSS for pid {pid}")


def loop_and_parser(pid: int) -> tuple[str, str]:
    """What uvicorn's "auto" picked, from the shared objects the process mapped: uvloop and
    httptools when it could import them, else asyncio and h11."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return "?", "?"
    loop = "uvloop" if "/uvloop/" in maps else "asyncio"
    parser = "httptools" if "/httptools/" in maps else "h11"
    return loop, parser


def _env() -> dict[str, str]:
    # The default account (1001, hyber:hyber): no MOCK_HYBER_* setting may change it.
    return {key: value for key, value in os.environ.items() if not key.startswith("MOCK_HYBER_")}


@contextlib.contextmanager
def started(command: list[str], url: str, probe: str) -> Iterator[Started]:
    began = time.perf_counter()
    with child(command, _env(), f"{url}{probe}") as pid:
        process = Started(url, pid, time.perf_counter() - began)
        time.sleep(1.0)
        process.idle_rss = rss_bytes(pid)
        process.loop, process.parser = loop_and_parser(pid)
        yield process


def mock_server() -> contextlib.AbstractContextManager[Started]:
    port = free_port()
    command = [sys.executable, "-m", "mock_hyber", "serve", "--port", str(port)]
    command += ["--seed", "1", "--log-level", "warning"]
    return started(command, f"http://127.0.0.1:{port}", "/_mock/health")


def floor_server(recipients: int) -> contextlib.AbstractContextManager[Started]:
    port = free_port()
    command = [sys.executable, str(HERE / "floor_app.py"), "--port", str(port)]
    command += ["--recipients", str(recipients)]
    return started(command, f"http://127.0.0.1:{port}", "/_mock/health")


@contextlib.contextmanager
def receiver() -> Iterator[str]:
    """bench_callbacks.py's receiver (answers 200 to every POST, counts reports at /stats);
    yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, str(HERE / "bench_callbacks.py"), "--receiver-port", str(port)]
    with child(command, dict(os.environ), f"{url}/stats"):
        yield url


# -- small requests: wrk ------------------------------------------------------------------

WRK_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "%(auth)s"
wrk.body = %(body)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_JSON {\\"requests\\":%%d,\\"duration_us\\":%%d,\\"p50_us\\":%%d,\\"p99_us\\":%%d," ..
    "\\"max_us\\":%%d,\\"non2xx\\":%%d,\\"socket_errors\\":%%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class Wrk:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def small_body() -> bytes:
    """The fixture's 2-recipient broadcast, without its callback_url."""
    body = _fixture("broadcast_viber_sms.json")
    body.pop("callback_url", None)
    return orjson.dumps(body)


def lua_string(data: bytes) -> str:
    return '"' + "".join(f"\\{byte:03d}" for byte in data) + '"'


def run_wrk(url: str, seconds: int, connections: int, threads: int) -> Wrk:
    if shutil.which("wrk") is None:
        raise BenchFailure("wrk is not installed: `apt-get install -y wrk` (make bench does it)")
    script = WRK_LUA % {"auth": BASIC, "body": lua_string(small_body())}
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"]
        command += ["--timeout", "10s", "-s", lua.name, f"{url}/{CLIENT_ID}/broadcast"]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=seconds + 60, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise BenchFailure(f"wrk did not finish: {' '.join(command)}") from exc
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise BenchFailure(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    data = orjson.loads(line.removeprefix("WRK_JSON "))
    if data["non2xx"] or data["socket_errors"] or not data["requests"]:
        raise BenchFailure(f"wrk against {url}: {data}")
    return Wrk(
        data["requests"],
        data["duration_us"] / 1e6,
        data["p50_us"] / 1000,
        data["p99_us"] / 1000,
        data["max_us"] / 1000,
    )


# -- large requests -----------------------------------------------------------------------


@dataclass
class Timed:
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # the server's CPU time per timed run

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


class Large:
    """The 50,000-recipient requests on one keep-alive connection: one warm-up and `runs`
    timed calls each. Only the request is timed. Against the mock, each timed send is followed
    (untimed) by a clock advance of an hour, so the next one meets only final messages."""

    def __init__(self, client: httpx.Client, pid: int, count: int, runs: int, settle: bool) -> None:
        self.client = client
        self.pid = pid
        self.count = count
        self.runs = runs
        self.settle = settle
        self.bodies = {
            "broadcast": broadcast_body(count, first=0),
            "batch": batch_body_without_callback(count),
        }

    def advance(self, seconds: int, timeout: float = 600) -> None:
        if self.settle:
            response = self.client.post(
                "/_mock/clock/advance", json={"seconds": seconds}, timeout=timeout
            )
            _check(response, "POST /_mock/clock/advance")

    def timed(self, call: Callable[[], httpx.Response], check: Callable[[Any], object]) -> Timed:
        result = Timed()
        for run in range(self.runs + 1):
            cpu_before = cpu_seconds(self.pid)
            started_at = time.perf_counter()
            response = call()
            elapsed = time.perf_counter() - started_at
            cpu_after = cpu_seconds(self.pid)
            check(_check(response, "timed request"))
            if run:  # run 0 is the warm-up
                result.times.append(elapsed)
                if cpu_before is not None and cpu_after is not None:
                    result.cpu.append(cpu_after - cpu_before)
        return result

    def send(self, kind: str, sync: bool) -> Timed:
        path = f"/{CLIENT_ID}/{kind}" + ("/sync" if sync else "")

        def call() -> httpx.Response:
            return self.client.post(path, content=self.bodies[kind], headers=JSON)

        def check(answer: Any) -> None:
            if sync:
                _check_messages(answer, self.count, path)
            else:
                _check_job(answer, path)
            self.advance(SETTLE)

        return self.timed(call, check)

    def status(self) -> Timed:
        response = self.client.post(
            f"/{CLIENT_ID}/broadcast", content=self.bodies["broadcast"], headers=JSON
        )
        job_id = _check_job(_check(response, "POST broadcast (status setup)"), "POST broadcast")
        self.advance(60)  # a job in flight: started, some final, some not
        path = f"/{CLIENT_ID}/status/{job_id}"
        return self.timed(
            lambda: self.client.get(path), lambda a: _check_messages(a, self.count, path)
        )

    def all(self) -> dict[str, Timed]:
        results = {}
        for kind in ("broadcast", "batch"):
            for sync in (False, True):
                name = f"POST /{CLIENT_ID}/{kind}" + ("/sync" if sync else "")
                results[name] = self.send(kind, sync)
                print(f"    {name}: median {results[name].median:.3f} s", flush=True)
        name = f"GET /{CLIENT_ID}/status/{{job_id}}"
        results[name] = self.status()
        print(f"    {name}: median {results[name].median:.3f} s", flush=True)
        self.advance(SETTLE)
        return results


# -- held messages ------------------------------------------------------------------------


@dataclass
class Held:
    messages: int
    jobs: int
    accept_s: float  # the POSTs
    advance_s: float  # the clock advance of a day
    final_s: float  # from the first POST until the poll saw all final
    rss_accepted: int
    rss_final: int
    states: dict[str, int]


def load_held(client: httpx.Client, pid: int, held: int, per_job: int, timeout: float) -> Held:
    sizes = [per_job] * (held // per_job) + ([held % per_job] if held % per_job else [])
    bodies = []
    first = 0
    for size in sizes:  # phones beyond those of the large requests' bodies (0..per_job)
        bodies.append(broadcast_body(size, first=per_job + first))
        first += size
    began = time.perf_counter()
    job_ids = []
    for number, body in enumerate(bodies, 1):
        response = client.post(f"/{CLIENT_ID}/broadcast", content=body, headers=JSON)
        job_ids.append(_check_job(_check(response, "POST held broadcast"), "held broadcast"))
        if number % 5 == 0 or number == len(bodies):
            print(f"    accepted {number}/{len(bodies)} jobs", flush=True)
    accept_s = time.perf_counter() - began
    rss_accepted = rss_bytes(pid)
    advance_began = time.perf_counter()
    response = client.post("/_mock/clock/advance", json={"seconds": DAY}, timeout=timeout)
    _check(response, "POST /_mock/clock/advance (a day)")
    advance_s = time.perf_counter() - advance_began
    deadline = time.monotonic() + timeout
    wanted = set(job_ids)
    while True:
        answer = _check(
            client.get("/_mock/jobs", params={"limit": len(job_ids)}, timeout=timeout),
            "GET /_mock/jobs",
        )
        states: dict[str, int] = {}
        for job in answer["jobs"]:
            if job["job_id"] in wanted:
                for state, n in job["states"].items():
                    states[state] = states.get(state, 0) + n
        seen = {job["job_id"] for job in answer["jobs"]} & wanted
        if seen == wanted and not states.get("pending") and not states.get("active"):
            break
        if time.monotonic() > deadline:
            raise BenchFailure(f"held messages not all final after {timeout:.0f} s: {states}")
        time.sleep(0.2)
    final_s = time.perf_counter() - began
    if sum(states.values()) != held:
        raise BenchFailure(f"held jobs hold {sum(states.values()):,} messages, not {held:,}")
    return Held(held, len(job_ids), accept_s, advance_s, final_s, rss_accepted, 0, states)


# -- report -------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    target: str
    mock: str
    floor: str = "-"
    ratio: str = "-"
    verdict: str = "-"


def _ratio(mock: float, floor: float) -> str:
    return f"{mock / floor:.1f}×" if floor > 0 else "-"


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "-"


def _load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


def _command(*args: str) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "n/a"


def machine() -> list[str]:
    free = _command("free", "-g").splitlines()
    mem = " ".join(free[1].split()[1:2]) + " GiB total" if len(free) > 1 else "n/a"
    swap = free[2].split()[1] + " GiB swap" if len(free) > 2 else ""
    versions = []
    for name in ("uvicorn", "starlette", "fastapi", "orjson", "httpx", "uvloop", "httptools"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} not installed")
    wrk = _command("wrk", "--version").splitlines()
    return [
        f"machine: nproc {os.cpu_count()}; free -g: {mem}, {swap}; python "
        f"{platform.python_version()}; {_command('uname', '-srm')}",
        f"packages: {', '.join(versions)}; {wrk[0].strip() if wrk else 'wrk missing'}",
    ]


def table(rows: list[Row], markdown: bool) -> str:
    head = ["case", "target", "mock_hyber", "floor", "ratio", "result"]
    cells = [[r.case, r.target, r.mock, r.floor, r.ratio, r.verdict] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|---|---|---:|---:|---:|---|"]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [max(len(c) for c in column) for column in zip(head, *cells, strict=True)]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in (2, 3, 4) else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    return "\n".join([line(head), "  ".join("-" * w for w in widths), *map(line, cells)])


TARGETS = {  # the targets for the large requests, seconds
    "broadcast": 0.1,
    "broadcast/sync": 0.3,
    "batch": 0.1,
    "batch/sync": 0.3,
    "status": 0.2,
}


def large_rows(mock: dict[str, Timed], floor: dict[str, Timed], count: int) -> list[Row]:
    rows = []
    for name, result in mock.items():
        key = "status" if "status" in name else name.split("/", 2)[2]
        target = TARGETS[key]
        rows.append(
            Row(
                f"{name} ({count:,})",
                f"≤ {target} s",
                f"{result.median:.3f} s ({result.best:.3f})",
                f"{floor[name].median:.3f} s ({floor[name].best:.3f})",
                _ratio(result.median, floor[name].median),
                _verdict(result.median <= target),
            )
        )
    return rows


# -- the run ------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    count, runs, wrk_s = args.recipients, args.runs, args.wrk_seconds
    conns, threads = args.connections, args.threads

    print("  floor app", flush=True)
    with (
        floor_server(count) as floor,
        httpx.Client(base_url=floor.url, auth=AUTH, timeout=300) as client,
    ):
        floor_large = Large(client, floor.pid, count, runs, settle=False).all()
        floor_wrk = run_wrk(floor.url, wrk_s, conns, threads)
        print(f"    small broadcasts: {floor_wrk.rate:,.0f} req/s", flush=True)
    notes.append(f"floor app: loop {floor.loop}, parser {floor.parser}")

    print("  mock_hyber A (empty)", flush=True)
    with mock_server() as mock_a:
        empty_wrk = run_wrk(mock_a.url, wrk_s, conns, threads)
        print(f"    small broadcasts: {empty_wrk.rate:,.0f} req/s", flush=True)
    notes.append(f"mock_hyber: loop {mock_a.loop}, parser {mock_a.parser}")

    print(f"  mock_hyber B ({args.held:,} held)", flush=True)
    with (
        mock_server() as mock_b,
        httpx.Client(base_url=mock_b.url, auth=AUTH, timeout=300) as client,
    ):
        held = load_held(client, mock_b.pid, args.held, count, args.timeout)
        held.rss_final = rss_bytes(mock_b.pid)
        print(f"    all final after {held.final_s:.1f} s", flush=True)
        mock_large = Large(client, mock_b.pid, count, runs, settle=True).all()
        with receiver() as receiver_url:
            inflight, callbacks = in_flight(client, mock_b, count, receiver_url, args)
            polled, _ = in_flight(client, mock_b, count, receiver_url, args, long_polls=10)
        stored = _check(client.get("/_mock/health"), "GET /_mock/health")["messages"]
        rss_end = rss_bytes(mock_b.pid)

    rows.append(
        Row(
            "healthy after start",
            "≤ 1 s",
            f"{mock_a.healthy_s:.2f} s",
            f"{floor.healthy_s:.2f} s",
            _ratio(mock_a.healthy_s, floor.healthy_s),
            _verdict(mock_a.healthy_s <= 1.0),
        )
    )
    rows.append(
        Row(
            "idle RSS (1 s after healthy)",
            "≤ 80 MB",
            _mb(mock_a.idle_rss),
            _mb(floor.idle_rss),
            _ratio(mock_a.idle_rss, floor.idle_rss),
            _verdict(mock_a.idle_rss <= 80e6),
        )
    )
    rows += large_rows(mock_large, floor_large, count)
    label = "small broadcasts"
    rows.append(
        Row(
            f"{label}, empty server: req/s",
            "≥ 5,000",
            f"{empty_wrk.rate:,.0f}",
            f"{floor_wrk.rate:,.0f}",
            f"{empty_wrk.rate / floor_wrk.rate:.2f}×",
            _verdict(empty_wrk.rate >= 5000),
        )
    )
    rows.append(
        Row(
            f"{label}, empty server: p99",
            "≤ 20 ms",
            f"{empty_wrk.p99_ms:.1f} ms",
            f"{floor_wrk.p99_ms:.1f} ms",
            _ratio(empty_wrk.p99_ms, floor_wrk.p99_ms),
            _verdict(empty_wrk.p99_ms <= 20),
        )
    )
    rows.append(
        Row(
            f"{label}, a callback job in flight: p99",
            "≤ 30 ms",
            f"{inflight.p99_ms:.1f} ms",
            f"{floor_wrk.p99_ms:.1f} ms",
            _ratio(inflight.p99_ms, floor_wrk.p99_ms),
            _verdict(inflight.p99_ms <= 30),
        )
    )
    rows.append(
        Row(
            f"{label}, 10 long-polls and a callback job: p99",
            "≤ 20 ms",
            f"{polled.p99_ms:.1f} ms",
            f"{floor_wrk.p99_ms:.1f} ms",
            _ratio(polled.p99_ms, floor_wrk.p99_ms),
            _verdict(polled.p99_ms <= 20),
        )
    )
    per_message = (held.rss_final - mock_b.idle_rss) / held.messages
    rows.append(
        Row(
            f"{held.messages:,} messages: accepted to all final",
            "≤ 10 s",
            f"{held.final_s:.1f} s",
            verdict=_verdict(held.final_s <= 10),
        )
    )
    rows.append(
        Row(
            "RSS per held message",
            "≤ 300 B",
            f"{per_message:,.0f} B",
            verdict=_verdict(per_message <= 300),
        )
    )

    notes += [
        f"large requests: median (best) of {runs} runs after a warm-up, one keep-alive "
        f"connection; the mock holds the {held.messages:,} messages (all final) meanwhile",
        f"small broadcasts: 2 recipients, `wrk -t{threads} -c{conns} -d{wrk_s}s`; the callback "
        f"job: a {count:,}-recipient broadcast to a local receiver, accepted just before wrk; "
        f"in flight {inflight.rate:,.0f} req/s",
        "server CPU s per large request (median), mock / floor: "
        + ", ".join(
            f"{name.split(' ', 1)[1]} {_median(mock_large[name].cpu)} / "
            f"{_median(floor_large[name].cpu)}"
            for name in mock_large
        ),
        "RSS per held message: (RSS when all final − idle RSS) / messages held",
        f"held: {held.jobs} broadcasts of {count:,}; accept {held.accept_s:.1f} s, advance of a "
        f"day {held.advance_s:.1f} s, all final {held.final_s:.1f} s after the first POST; "
        f"states {held.states}",
        f"mock B RSS: idle {_mb(mock_b.idle_rss)}, after accepting {_mb(held.rss_accepted)}, "
        f"all final {_mb(held.rss_final)}, at the end {_mb(rss_end)} with {stored:,} stored "
        f"messages (retention keeps at most 1,000,000 by default); healthy after "
        f"{mock_b.healthy_s:.2f} s",
        f"small broadcasts p50/p99/max ms: floor {floor_wrk.p50_ms:.1f}/{floor_wrk.p99_ms:.1f}/"
        f"{floor_wrk.max_ms:.0f}, mock empty {empty_wrk.p50_ms:.1f}/{empty_wrk.p99_ms:.1f}/"
        f"{empty_wrk.max_ms:.0f}, mock in flight {inflight.p50_ms:.1f}/{inflight.p99_ms:.1f}/"
        f"{inflight.max_ms:.0f}",
        f"in flight: the receiver got {callbacks[0]:,} reports before wrk, {callbacks[1]:,} at "
        f"its end (of {count:,})",
    ]
    return rows, notes


def in_flight(
    client: httpx.Client,
    mock: Started,
    count: int,
    receiver_url: str,
    args: argparse.Namespace,
    long_polls: int = 0,
) -> tuple[Wrk, tuple[int, int]]:
    """A `count`-recipient broadcast with a callback_url to the receiver, then wrk at once;
    with `long_polls`, that many `GET /_mock/messages?wait=` wait meanwhile for a count of
    final messages that never comes (the issue's case: they must cost nothing)."""
    import threading

    wait = args.wrk_seconds + 3
    params = {"wait": wait, "min_count": 1_000_000, "status": "final", "limit": 0}

    def poll() -> None:
        with httpx.Client(base_url=mock.url, timeout=wait + 30) as http:
            _check(http.get("/_mock/messages", params=params), "GET /_mock/messages?wait=")

    pollers = [threading.Thread(target=poll, daemon=True) for _ in range(long_polls)]
    for poller in pollers:
        poller.start()
    with httpx.Client(base_url=receiver_url, timeout=10) as rx:
        _check(rx.post("/reset"), "POST receiver /reset")
        body = broadcast_body(count, first=0, callback_url=f"{receiver_url}/dr")
        response = client.post(f"/{CLIENT_ID}/broadcast", content=body, headers=JSON)
        _check_job(_check(response, "POST callback broadcast"), "callback broadcast")
        before = _check(rx.get("/stats"), "GET receiver /stats")["reports"]
        result = run_wrk(mock.url, args.wrk_seconds, args.connections, args.threads)
        after = _check(rx.get("/stats"), "GET receiver /stats")["reports"]
    for poller in pollers:
        poller.join(timeout=wait + 30)
    what = f"{long_polls} long-polls and a job" if long_polls else "a job"
    print(f"    {what} in flight: {result.rate:,.0f} req/s, p99 {result.p99_ms:.1f} ms", flush=True)
    return result, (before, after)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds (CI)")
    parser.add_argument("--held", type=int, help="messages held by the mock (1,000,000)")
    parser.add_argument("--recipients", type=int, help="recipients per large request (50,000)")
    parser.add_argument("--runs", type=int, help="timed runs per large case (5)")
    parser.add_argument("--wrk-seconds", type=int, help="seconds per wrk run (10)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait for the held messages"
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    for name, value in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, value)

    began = time.perf_counter()
    print(
        f"bench_staging: {args.held:,} held, {args.recipients:,} recipients per large request, "
        f"median and best of {args.runs} run(s) after a warm-up, wrk {args.wrk_seconds} s"
    )
    for line in machine():
        print(line)
    print(f"load average at start: {_load()}", flush=True)
    try:
        rows, notes = run(args)
    except (BenchFailure, httpx.HTTPError) as exc:
        print(f"bench_staging: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"load average at end: {_load()}; took {time.perf_counter() - began:.0f} s\n")
    print(table(rows, args.markdown))
    print()
    for note in notes:
        print(f"- {note}" if args.markdown else note)
    misses = sum(row.verdict == "MISS" for row in rows)
    print(f"\n{len(rows) - misses}/{len(rows)} cases within target")
    print("(targets are reported, not asserted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
