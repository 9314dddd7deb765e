"""Acceptance benchmark: wall-clock time of the mass-sending and status endpoints at 50,000
recipients, against a mock_hyber server running in its own process (so the client and the
server do not share a GIL).

    .venv/bin/python bench/bench_accept.py            # 50,000 recipients, best/median of 5
    .venv/bin/python bench/bench_accept.py --smoke    # 500 recipients, 1 run: a CI check

Targets (0.5 s per request) are reported, not asserted: the exit status is 0 whether a case
meets its target or not, and non-zero only if a request fails (non-200 or a wrong answer).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from processes import BenchFailure, child, cpu_seconds, free_port

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "fixtures" / "spec"
CLIENT_ID = "1001"
AUTH = ("hyber", "hyber")  # the default account of Settings()
TARGET_S = 0.5
FIRST_PHONE = 380960000000
JSON = {"Content-Type": "application/json"}


# -- request bodies -----------------------------------------------------------------------


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SPEC / name).read_text(encoding="utf-8"))
    return data


def broadcast_body(count: int) -> bytes:
    """broadcast_viber_sms.json with `count` recipients: distinct phones, name and greeting."""
    body = copy.deepcopy(_fixture("broadcast_viber_sms.json"))
    greetings = ("Mr. ", "Ms. ")
    body["recipients"] = [
        {
            "phone_number": FIRST_PHONE + i,
            "extra_id": f"AD-{i:06d}",
            "name": f"Name{i}",
            "greeting": greetings[i % 2],
        }
        for i in range(count)
    ]
    return orjson.dumps(body)


def batch_body(count: int) -> bytes:
    """batch_viber_sms.json with `count` messages: distinct phones and a distinct text each."""
    body = copy.deepcopy(_fixture("batch_viber_sms.json"))
    body["messages"] = [
        {
            "phone_number": FIRST_PHONE + i,
            "extra_id": f"AD-{i:06d}",
            "text": f"Text for all channels, recipient #{FIRST_PHONE + i}",
        }
        for i in range(count)
    ]
    return orjson.dumps(body)


# -- the server in its own process --------------------------------------------------------


@contextlib.contextmanager
def server_process(seed: int = 1, timeout: float = 30.0) -> Iterator[tuple[str, int]]:
    """`python -m mock_hyber serve` on a free port; yields its base URL and pid once healthy."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # The default account (1001, hyber:hyber): no MOCK_HYBER_* setting may change it.
    env = {key: value for key, value in os.environ.items() if not key.startswith("MOCK_HYBER_")}
    command = [sys.executable, "-m", "mock_hyber", "serve", "--port", str(port)]
    command += ["--seed", str(seed), "--log-level", "warning"]
    with child(command, env, f"{url}/_mock/health", timeout) as pid:
        yield url, pid


# -- cases --------------------------------------------------------------------------------


@dataclass
class Result:
    case: str
    recipients: int
    request_bytes: int
    response_bytes: int = 0
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # the server's CPU time per timed run

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def server_cpu(self) -> str:
        return f"{statistics.median(self.cpu):.2f}" if self.cpu else "-"

    @property
    def verdict(self) -> str:
        """PASS when the median run is within the target: the typical request, not the luckiest."""
        return "PASS" if self.median <= TARGET_S else "MISS"


def _check(response: httpx.Response, what: str) -> Any:
    if response.status_code != 200:
        raise BenchFailure(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    return orjson.loads(response.content)


def _check_messages(answer: Any, count: int, what: str) -> None:
    messages = answer.get("messages") if isinstance(answer, dict) else None
    if not isinstance(messages, list) or len(messages) != count:
        got = len(messages) if isinstance(messages, list) else type(messages).__name__
        raise BenchFailure(f"{what}: expected {count} messages, got {got}")
    refused = sum(1 for item in messages if not item.get("accepted"))
    if refused:  # every recipient is valid: a refusal means another code path was timed
        raise BenchFailure(f"{what}: {refused} of {count} recipients not accepted")


def _check_job(answer: Any, what: str) -> str:
    job_id = answer.get("job_id") if isinstance(answer, dict) else None
    if not isinstance(job_id, str) or not job_id:
        raise BenchFailure(f"{what}: no job_id in {str(answer)[:200]}")
    return job_id


class Bench:
    def __init__(self, client: httpx.Client, server_pid: int, count: int, runs: int) -> None:
        self.client = client
        self.server_pid = server_pid
        self.count = count
        self.runs = runs
        self.bodies = {"broadcast": broadcast_body(count), "batch": batch_body(count)}

    def reset(self) -> None:
        _check(self.client.post("/_mock/reset"), "POST /_mock/reset")

    def post(self, path: str, kind: str) -> httpx.Response:
        return self.client.post(path, content=self.bodies[kind], headers=JSON)

    def measure(
        self,
        case: str,
        request_bytes: int,
        call: Callable[[Any], httpx.Response],
        check: Callable[[Any], object],
        prepare: Callable[[], Any] = lambda: None,
    ) -> Result:
        """One warm-up, then `runs` timed calls. Only the request itself is timed: the reset of
        the store before each call, `prepare` and the check of the answer are not."""
        result = Result(case, self.count, request_bytes)
        for run in range(self.runs + 1):
            self.reset()
            prepared = prepare()
            cpu_before = cpu_seconds(self.server_pid)
            started = time.perf_counter()
            response = call(prepared)
            elapsed = time.perf_counter() - started
            cpu_after = cpu_seconds(self.server_pid)
            check(_check(response, case))
            result.response_bytes = len(response.content)
            if run:  # run 0 is the warm-up
                result.times.append(elapsed)
                if cpu_before is not None and cpu_after is not None:
                    result.cpu.append(cpu_after - cpu_before)
        self.reset()
        return result

    def send_async(self, kind: str) -> Result:
        path = f"/{CLIENT_ID}/{kind}"
        case = f"POST {path}"
        return self.measure(
            case,
            len(self.bodies[kind]),
            lambda _: self.post(path, kind),
            lambda answer: _check_job(answer, case),
        )

    def send_sync(self, kind: str) -> Result:
        path = f"/{CLIENT_ID}/{kind}/sync"
        case = f"POST {path}"
        return self.measure(
            case,
            len(self.bodies[kind]),
            lambda _: self.post(path, kind),
            lambda answer: _check_messages(answer, self.count, case),
        )

    def status(self) -> Result:
        case = f"GET /{CLIENT_ID}/status/{{job_id}}"

        def prepare() -> str:
            response = self.post(f"/{CLIENT_ID}/broadcast", "broadcast")
            job_id = _check_job(_check(response, "POST broadcast (setup)"), "POST broadcast")
            # Time the report of a job in flight, not the engine starting its 50,000 messages
            # at the same moment: wait until none of them is still pending.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                jobs = _check(self.client.get("/_mock/jobs", params={"limit": 1}), "GET jobs")
                if not jobs["jobs"][0]["states"].get("pending"):
                    break
                time.sleep(0.05)
            return job_id

        return self.measure(
            case,
            0,
            lambda job_id: self.client.get(f"/{CLIENT_ID}/status/{job_id}"),
            lambda answer: _check_messages(answer, self.count, case),
            prepare,
        )

    def all(self) -> Iterator[Result]:
        yield self.send_async("broadcast")
        yield self.send_sync("broadcast")
        yield self.send_async("batch")
        yield self.send_sync("batch")
        yield self.status()


# -- report -------------------------------------------------------------------------------


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1_000:
        return f"{n / 1_000:.1f} kB"
    return f"{n} B"


def table(results: list[Result], markdown: bool = False) -> str:
    head = ["case", "recipients", "request", "response", "best s", "median s"]
    head += ["server CPU s", "target s", "result"]
    rows = [
        [
            r.case,
            f"{r.recipients:,}",
            _size(r.request_bytes) if r.request_bytes else "-",
            _size(r.response_bytes),
            f"{r.best:.3f}",
            f"{r.median:.3f}",
            r.server_cpu,
            f"{TARGET_S:.1f}",
            r.verdict,
        ]
        for r in results
    ]
    if markdown:
        lines = ["| " + " | ".join(head) + " |"]
        lines.append("|" + "|".join(["---", *["---:"] * 7, "---"]) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(cell)) for cell in column) for column in zip(head, *rows, strict=True)]
    right = {1, 2, 3, 4, 5, 6, 7}

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="500 recipients, 1 run (CI check)")
    parser.add_argument("--recipients", type=int, help="recipients per request (default 50,000)")
    parser.add_argument("--runs", type=int, help="timed runs per case after a warm-up (default 5)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args(argv)
    count = args.recipients or (500 if args.smoke else 50_000)
    runs = args.runs or (1 if args.smoke else 5)

    print(f"bench_accept: {count:,} recipients, best and median of {runs} run(s) after a warm-up")
    print(f"load average at start: {_load()}")
    results: list[Result] = []
    try:
        with (
            server_process() as (url, pid),
            httpx.Client(base_url=url, auth=AUTH, timeout=300) as client,
        ):
            bench = Bench(client, pid, count, runs)
            for result in bench.all():
                results.append(result)
                print(f"  {result.case}: best {result.best:.3f} s", flush=True)
    except (BenchFailure, httpx.HTTPError) as exc:
        print(f"bench_accept: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"load average at end: {_load()}\n")
    print(table(results, markdown=args.markdown))
    misses = sum(r.verdict == "MISS" for r in results)
    print(f"\n{len(results) - misses}/{len(results)} cases with a median within {TARGET_S} s")
    print("(targets are reported, not asserted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
