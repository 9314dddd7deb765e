"""Dashboard benchmark (issue 11): small-request throughput with the dashboard open on a
running clock, against the same server with no dashboard open.

    .venv/bin/python bench/bench_dashboard.py             # 3 pairs of 10 s wrk runs
    .venv/bin/python bench/bench_dashboard.py --smoke     # 1 pair of 2 s runs: a CI check

One `python -m mock_hyber serve` (running clock, speed 1) holds a broadcast of `--recipients`
whose statuses move during the runs. wrk sends the 2-recipient broadcast of bench_staging.py
on 16 connections, alternately without and with "the dashboard open": a thread that makes the
requests the page's script makes (app.js) — GET /ui/live every second with If-None-Match, and
the page's live part (`--page`, the Jobs list by default) whenever the answer is not 304 or the
clock has passed the page's next moment. Every small send changes the revision, so under wrk
the open page refreshes every second: the worst case of a page left open.

Target (reported, not asserted): with the dashboard open, throughput within 10 % of the rate
without it. The exit status is non-zero only when something fails.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field

import httpx
import orjson
from bench_staging import AUTH, CLIENT_ID, JSON, broadcast_body, machine, mock_server, run_wrk
from processes import BenchFailure, cpu_seconds

FULL = {"recipients": 20_000, "pairs": 3, "wrk_seconds": 10}
SMOKE = {"recipients": 500, "pairs": 1, "wrk_seconds": 2}
POLL_S = 1.0  # app.js POLL_MS
REFRESH_FACTOR = 20  # app.js: a refresh waits 20 times as long as the last one took


@dataclass
class OpenPage:
    """The dashboard page's requests, from a thread, until `stop` is set."""

    url: str
    path: str
    always: bool = False  # refresh at every poll, as if every poll found a change
    stop: threading.Event = field(default_factory=threading.Event)
    polls: int = 0
    refreshes: int = 0
    refresh_seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    # What the page keeps while it stays open (across the runs it is open for).
    revision: str = ""
    last_at: float = -1e9
    last_took: float = 0.0

    def open_for(self) -> threading.Thread:
        """Start (again) in a thread, until `stop` is set; the counts start from zero."""
        self.stop = threading.Event()
        self.polls, self.refreshes, self.refresh_seconds, self.errors = 0, 0, [], []
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        next_moments: dict[str, int | None] = {}
        clocks: dict[str, dict[str, float]] = {}
        clocks_at = time.monotonic()
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self.stop.wait(POLL_S):
                self.polls += 1
                answer = http.get("/ui/live", headers={"If-None-Match": self.revision})
                changed = answer.status_code == 200
                if changed:
                    data = answer.json()
                    clocks, clocks_at = data["clocks"], time.monotonic()
                elif answer.status_code != 304:
                    self.errors.append(f"/ui/live: {answer.status_code}")
                    continue
                elapsed_ms = (time.monotonic() - clocks_at) * 1000
                passed = any(
                    at is not None
                    and id_ in clocks
                    and clocks[id_]["now_ms"] + (0 if clocks[id_]["frozen"] else elapsed_ms) >= at
                    for id_, at in next_moments.items()
                )
                if not (changed or passed or self.always):
                    continue
                if time.perf_counter() - self.last_at < REFRESH_FACTOR * self.last_took:
                    continue  # the revision is kept: the next poll asks again
                started = time.perf_counter()
                part = http.get(self.path, headers={"X-UI-Fragment": "1"})
                self.last_at = time.perf_counter()
                self.last_took = self.last_at - started
                self.refresh_seconds.append(self.last_took)
                if part.status_code != 200:
                    self.errors.append(f"{self.path}: {part.status_code}")
                    continue
                self.refreshes += 1
                next_moments = orjson.loads(part.headers.get("x-ui-next", "{}"))
                if changed:
                    self.revision = answer.headers["etag"]


@dataclass
class Pair:
    without: float  # req/s
    with_page: float
    page: OpenPage
    without_per_cpu: float  # requests per CPU second of the server
    with_per_cpu: float


@dataclass
class Cost:
    """The server's CPU time over `seconds` of an open page with no other load (wall time on
    a shared machine says little; CPU time hardly moves with what else runs)."""

    name: str
    seconds: float
    cpu: float
    page: OpenPage | None


def cost(url: str, pid: int, seconds: float, page: OpenPage | None, name: str) -> Cost:
    before = cpu_seconds(pid) or 0.0
    thread = page.open_for() if page is not None else None
    time.sleep(seconds)
    if page is not None and thread is not None:
        page.stop.set()
        thread.join(timeout=60)
        if page.errors:
            raise BenchFailure(f"the open page: {page.errors[:3]}")
    return Cost(name, seconds, (cpu_seconds(pid) or 0.0) - before, page)


def costs(url: str, pid: int, args: argparse.Namespace) -> list[Cost]:
    seconds = args.wrk_seconds * 2
    found = [cost(url, pid, seconds, None, "no page open")]
    found.append(cost(url, pid, seconds, OpenPage(url, args.page), "page open, nothing sent"))
    refreshing = OpenPage(url, args.page, always=True)
    found.append(cost(url, pid, seconds, refreshing, "page refreshing as often as it may"))
    return found


def run(args: argparse.Namespace) -> tuple[list[Pair], list[Cost]]:
    pairs = []
    with mock_server() as mock, httpx.Client(base_url=mock.url, auth=AUTH, timeout=60) as client:
        body = broadcast_body(args.recipients)
        answer = client.post(f"/{CLIENT_ID}/broadcast", content=body, headers=JSON)
        if answer.status_code != 200:
            raise BenchFailure(f"the held broadcast: {answer.status_code} {answer.text[:200]}")
        print(f"  mock {mock.url}: a broadcast of {args.recipients:,} held, clock running")
        left_open = OpenPage(mock.url, args.page)  # one page, open during every "with" run
        for number in range(1, args.pairs + 1):
            cpu = cpu_seconds(mock.pid) or 0.0
            without = run_wrk(mock.url, args.wrk_seconds, args.connections, args.threads)
            cpu_without = (cpu_seconds(mock.pid) or 0.0) - cpu
            thread = left_open.open_for()
            cpu = cpu_seconds(mock.pid) or 0.0
            with_page = run_wrk(mock.url, args.wrk_seconds, args.connections, args.threads)
            cpu_with = (cpu_seconds(mock.pid) or 0.0) - cpu
            left_open.stop.set()
            thread.join(timeout=60)
            if left_open.errors:
                raise BenchFailure(f"the open page: {left_open.errors[:3]}")
            page = OpenPage(mock.url, args.page)  # this run's counts
            page.polls, page.refreshes = left_open.polls, left_open.refreshes
            page.refresh_seconds = list(left_open.refresh_seconds)
            pairs.append(
                Pair(
                    without.rate,
                    with_page.rate,
                    page,
                    without.requests / max(cpu_without, 0.01),
                    with_page.requests / max(cpu_with, 0.01),
                )
            )
            print(
                f"  pair {number}: {without.rate:,.0f} req/s without, {with_page.rate:,.0f} "
                f"with the page open ({page.polls} polls, {page.refreshes} refreshes)",
                flush=True,
            )
        # After the runs: the Jobs page now lists the newest of the thousands of jobs wrk sent.
        spent = costs(mock.url, mock.pid, args)
    return pairs, spent


def report(pairs: list[Pair], spent: list[Cost], args: argparse.Namespace) -> None:
    without = statistics.median(pair.without for pair in pairs)
    with_page = statistics.median(pair.with_page for pair in pairs)
    change = (with_page - without) / without
    refreshes = [s for pair in pairs for s in pair.page.refresh_seconds]
    verdict = "PASS" if change >= -0.10 else "MISS"
    print()
    for line in machine():
        print(line)
    print(f"page open: {args.page}, polled every {POLL_S:g} s; wrk {args.wrk_seconds} s runs")
    print("| case | target | req/s (median of pairs) | result |")
    print("|---|---|---:|---|")
    print(f"| small broadcasts, no dashboard | - | {without:,.0f} | - |")
    print(
        f"| small broadcasts, dashboard open | within 10 % | {with_page:,.0f} "
        f"({change:+.1%}) | {verdict} |"
    )
    per_cpu = statistics.median(pair.without_per_cpu for pair in pairs)
    per_cpu_page = statistics.median(pair.with_per_cpu for pair in pairs)
    cpu_change = (per_cpu_page - per_cpu) / per_cpu
    print(f"| requests per server CPU second, no dashboard | - | {per_cpu:,.0f} | - |")
    cpu_verdict = "PASS" if cpu_change >= -0.10 else "MISS"
    print(
        f"| requests per server CPU second, dashboard open | within 10 % | {per_cpu_page:,.0f} "
        f"({cpu_change:+.1%}) | {cpu_verdict} |"
    )
    if refreshes:
        print(
            f"page refreshes: {len(refreshes)}, median {statistics.median(refreshes) * 1000:.1f}"
            f" ms, max {max(refreshes) * 1000:.1f} ms (under the wrk load)"
        )
    print()
    print("| server CPU, no other load | CPU s / wall s | share of one core | polls | refreshes |")
    print("|---|---:|---:|---:|---:|")
    for found in spent:
        polls = found.page.polls if found.page else 0
        refreshed = found.page.refreshes if found.page else 0
        print(
            f"| {found.name} | {found.cpu:.2f} / {found.seconds:.0f} | "
            f"{found.cpu / found.seconds:.1%} | {polls} | {refreshed} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds (CI)")
    parser.add_argument("--recipients", type=int, help="recipients of the held broadcast")
    parser.add_argument("--pairs", type=int, help="wrk runs without and with the page (3)")
    parser.add_argument("--wrk-seconds", type=int, help="seconds per wrk run (10)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--page", default="/ui/jobs", help="the dashboard page left open")
    args, _ = parser.parse_known_args(argv)  # run_all passes every benchmark's options
    sizes = SMOKE if args.smoke else FULL
    for name, value in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    try:
        pairs, spent = run(args)
        report(pairs, spent, args)
    except BenchFailure as failure:
        print(f"bench_dashboard: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
