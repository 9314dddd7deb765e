"""Engine benchmark: one million batch messages accepted, planned and run to their final status
by advancing the virtual clock, in-process (no HTTP): the time it takes and the memory each
stored message costs.

    .venv/bin/python bench/bench_engine.py               # 1,000,000 messages: 20 x 50,000
    .venv/bin/python bench/bench_engine.py --smoke       # 20,000 messages: 20 x 1,000
    .venv/bin/python bench/bench_engine.py --callbacks   # keep the fixture's callback_url
    .venv/bin/python bench/bench_engine.py --profile     # + cProfile of both phases (slower)

The batches are fixtures/spec/batch_viber_sms.json (viber then sms) with distinct phones,
extra_ids and ~40-character texts. Without --callbacks the callback_url is left out, so the
figures are the engine's and the store's alone; with it, every final status also queues a
delivery report in the account's callback outbox (no dispatcher runs, so they stay queued).

Each figure comes from a fresh child process: a timing run (no tracemalloc; RSS from
/proc/self/status) and a memory run (tracemalloc, which slows Python down, so its times are not
reported). Targets (under 60 s in all, under 1 KB per stored message) are reported, not
asserted: the exit status is 1 only if a message misses its final state (2 with --strict when a
target is missed).
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import gc
import io
import json
import math
import os
import platform
import pstats
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing the package

from mock_hyber.config import Settings  # noqa: E402
from mock_hyber.model import State  # noqa: E402
from mock_hyber.service.accept import SendingService  # noqa: E402
from mock_hyber.service.inspect import states_at  # noqa: E402
from mock_hyber.state import AccountState, Backend  # noqa: E402

FIXTURE = ROOT / "fixtures" / "spec" / "batch_viber_sms.json"
CLIENT_ID = "1001"
FIRST_PHONE = 380960000000
FULL = 1_000_000
SMOKE = 20_000
BATCH_MAX = 50_000  # the API's max_recipients
ADVANCE_S = 10 * 86400  # far past every planned moment (ttls, late deliveries, seen, clicks)
SLICE = 50_000  # messages per run_until slice in the memory run, to sample the heap
TARGET_TOTAL_S = 60.0
TARGET_BYTES = 1024
RESULT = "RESULT "  # the prefix of a child's JSON line
FINAL_STATES = (State.DELIVERED, State.FAILED)


# -- one run, in this process -------------------------------------------------------------


def rss_bytes(field: str = "VmRSS") -> int:
    """Resident set size (or its peak, VmHWM) of this process, from /proc/self/status."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def batch_body(template: dict[str, Any], first: int, count: int, callbacks: bool) -> dict[str, Any]:
    """batch_viber_sms.json with `count` items: distinct phone, extra_id and ~40-char text."""
    body = copy.deepcopy(template)
    if not callbacks:
        body.pop("callback_url", None)
    body["messages"] = [
        {
            "phone_number": FIRST_PHONE + i,
            "extra_id": f"E-{i}",
            "text": f"Your order #{i:07d} is ready for pickup",
        }
        for i in range(first, first + count)
    ]
    return body


def new_account() -> tuple[Backend, AccountState]:
    settings = Settings(seed=1, clock_frozen=True, clock_start="2026-01-01T00:00:00Z")
    backend = Backend(settings)
    account = backend.account(CLIENT_ID)
    assert account is not None
    return backend, account


def accept(
    account: AccountState,
    total: int,
    batch: int,
    callbacks: bool,
    profiler: cProfile.Profile | None,
) -> tuple[float, float]:
    """Send every batch; the wall and CPU seconds spent in send_batch (bodies built outside)."""
    template = json.loads(FIXTURE.read_text(encoding="utf-8"))
    service = SendingService(account)
    wall = cpu = 0.0
    for first in range(0, total, batch):
        body = batch_body(template, first, min(batch, total - first), callbacks)
        if profiler is not None:
            profiler.enable()
        started, cpu_started = time.perf_counter(), time.process_time()
        job = service.send_batch(body)
        wall += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
        if profiler is not None:
            profiler.disable()
        if job.rejected:
            raise SystemExit("bench_engine: a message was rejected at acceptance")
        del body, job  # the items' texts live on in the messages; the rest of the body goes
    return wall, cpu


def evaluate_all(account: AccountState, now_ms: int) -> None:
    """What reading every message at `now_ms` costs: each job's lives are planned (on first
    use) and evaluated; the reports a callback_url asks for are handed to the outbox."""
    for job in account.store.iter_jobs():
        states_at(job, now_ms)
    account.engine.run_until(now_ms)


def run_sliced(account: AccountState, now_ms: int) -> tuple[int, int]:
    """evaluate_all, sampling memory after each job: returns (the scheduler's largest heap
    length, the largest traced memory)."""
    engine = account.engine
    heap_max = len(engine)
    traced_max = tracemalloc.get_traced_memory()[0]
    for job in account.store.iter_jobs():
        states_at(job, now_ms)
        traced_max = max(traced_max, tracemalloc.get_traced_memory()[0])
    while not engine.run_until(now_ms, budget=SLICE):
        heap_max = max(heap_max, len(engine))
        traced_max = max(traced_max, tracemalloc.get_traced_memory()[0])
    return heap_max, traced_max


def verify(account: AccountState, total: int) -> tuple[dict[str, int], int]:
    """Counts by state and the sum of moments that happened; every message must be final."""
    states: Counter[State] = Counter()
    events = 0
    now_ms = account.clock.now_ms()
    for job in account.store.iter_jobs():
        states.update(State(state) for state in states_at(job, now_ms).tolist())
        events += int(job.lives.steps_at(now_ms - job.begin_ms).sum())
    if len(account.store) != total:
        raise SystemExit(f"bench_engine: {len(account.store):,} messages stored, not {total:,}")
    if len(account.engine):
        raise SystemExit(f"bench_engine: {len(account.engine):,} heap entries left after the run")
    unfinished = {state.name: n for state, n in states.items() if state not in FINAL_STATES}
    if unfinished:
        raise SystemExit(f"bench_engine: messages not in a final state: {unfinished}")
    return {state.name: states[state] for state in State if states[state]}, events


def column_sizes(account: AccountState, total: int) -> dict[str, float]:
    """Bytes per message of each column the jobs hold (numpy buffers, packed texts)."""
    sizes: Counter[str] = Counter()
    for job in account.store.iter_jobs():
        sizes["phones (int64)"] += job.phones.nbytes
        sizes["sms_parts (uint8)"] += job.sms_parts.nbytes
        for name in ("extra_ids", "texts"):
            column = getattr(job, name)
            if column is not None:
                sizes[f"{name} (packed text)"] += sum(
                    len(value or "") for value in column.to_list()
                ) + 4 * len(column)
        sizes["lives (moment table and derived columns)"] += job.lives.nbytes
    return {name: size / total for name, size in sizes.items()}


def run_once(
    total: int, batch: int, callbacks: bool, memory: bool, profile: bool
) -> dict[str, Any]:
    """Accept `total` messages in batches and run them to the end; the figures as a dict."""
    gc.collect()
    backend, account = new_account()
    if memory:
        tracemalloc.start()
    rss_before = rss_bytes()
    result: dict[str, Any] = {"messages": total, "batch": batch, "callbacks": callbacks}
    accept_profile = cProfile.Profile() if profile else None
    result["accept_s"], result["accept_cpu"] = accept(
        account, total, batch, callbacks, accept_profile
    )
    gc.collect()
    result["rss_after_accept"] = rss_bytes() - rss_before
    if memory:
        result["traced_after_accept"], result["traced_peak_accept"] = (
            tracemalloc.get_traced_memory()
        )
        tracemalloc.reset_peak()

    account.clock.advance(ADVANCE_S)
    now_ms = account.clock.now_ms()
    run_profile = cProfile.Profile() if profile else None
    started, cpu_started = time.perf_counter(), time.process_time()
    if memory:
        result["heap_max"], result["traced_max_between_slices"] = run_sliced(account, now_ms)
    elif run_profile is not None:
        run_profile.runcall(evaluate_all, account, now_ms)
    else:
        evaluate_all(account, now_ms)
    result["run_s"] = time.perf_counter() - started
    result["run_cpu"] = time.process_time() - cpu_started

    gc.collect()
    result["states"], result["events"] = verify(account, total)
    result["callback_deliveries"] = len(account.outbox.deliveries)
    result["rss_after_run"] = rss_bytes() - rss_before
    result["rss_peak"] = rss_bytes("VmHWM") - rss_before
    if memory:
        result["traced_after_run"], result["traced_peak_run"] = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result["parts"] = column_sizes(account, total)
        result["containers"] = {}
    for name, profiler in (("accept", accept_profile), ("run", run_profile)):
        if profiler is not None:
            result[f"profile_{name}"] = profile_text(profiler)
    del backend, account
    return result


def profile_text(profiler: cProfile.Profile, top: int = 15) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


# -- the parent: one child per measurement ------------------------------------------------


def child(total: int, batch: int, callbacks: bool, phase: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--messages", str(total), "--batch-size", str(batch)]
    command += ["--phase", phase] + (["--callbacks"] if callbacks else [])
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    sys.stderr.write(done.stderr)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode != 0 or not lines:
        sys.stdout.write(done.stdout)
        raise SystemExit(f"bench_engine: the {phase} run failed (exit {done.returncode})")
    data: dict[str, Any] = json.loads(lines[-1][len(RESULT) :])
    return data


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def table(timing: dict[str, Any], memory: dict[str, Any], markdown: bool) -> tuple[str, bool]:
    total = timing["messages"]
    total_s = timing["accept_s"] + timing["run_s"]
    total_cpu = timing["accept_cpu"] + timing["run_cpu"]
    per_traced = memory["traced_after_run"] / total
    time_ok = total_s < TARGET_TOTAL_S
    mem_ok = per_traced < TARGET_BYTES
    states = ", ".join(f"{name.lower()} {count:,}" for name, count in timing["states"].items())
    batches = math.ceil(total / timing["batch"])
    events = timing["events"]
    rows = [
        ("messages", f"{total:,} ({batches} × {timing['batch']:,})", ""),
        ("callback_url", "yes" if timing["callbacks"] else "no", ""),
        ("accept (send_batch)", f"{timing['accept_s']:.2f} s (cpu {timing['accept_cpu']:.2f})", ""),
        ("run (evaluate +10 days)", f"{timing['run_s']:.2f} s (cpu {timing['run_cpu']:.2f})", ""),
        ("total", f"{total_s:.2f} s (cpu {total_cpu:.2f})", f"< {TARGET_TOTAL_S:.0f} s: "),
        ("throughput", f"{total / total_s:,.0f} messages/s", ""),
        ("events processed (Σ step)", f"{events:,} ({events / total:.2f}/message)", ""),
        ("final states", states, "all final"),
        ("callback deliveries queued", f"{timing['callback_deliveries']:,}", ""),
        (
            "bytes/message (tracemalloc)",
            f"{per_traced:,.0f} B ({_mb(memory['traced_after_run'])})",
            f"< {TARGET_BYTES} B: ",
        ),
        ("  after acceptance", f"{memory['traced_after_accept'] / total:,.0f} B", ""),
        ("  peak, accept phase", _mb(memory["traced_peak_accept"]), ""),
        (
            "  peak, run phase",
            f"{_mb(memory['traced_peak_run'])} (heap up to {memory['heap_max']:,} entries)",
            "",
        ),
        (
            "RSS/message after run",
            f"{timing['rss_after_run'] / total:,.0f} B ({_mb(timing['rss_after_run'])})",
            "",
        ),
        ("  after acceptance", f"{timing['rss_after_accept'] / total:,.0f} B", ""),
        ("  peak (VmHWM)", f"{timing['rss_peak'] / total:,.0f} B ({_mb(timing['rss_peak'])})", ""),
    ]
    rows[4] = (*rows[4][:2], rows[4][2] + _verdict(time_ok))
    rows[9] = (*rows[9][:2], rows[9][2] + _verdict(mem_ok))
    headers = ("figure", "value", "target")
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|---|---|---|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    else:
        widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(3)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
        lines.append("  ".join("-" * w for w in widths))
        lines += [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
        ]
    return "\n".join(lines), time_ok and mem_ok


def breakdown(memory: dict[str, Any], markdown: bool) -> str:
    """Where a stored message's bytes go (sys.getsizeof, averaged over a sample)."""
    rows = list(memory["parts"].items()) + list(memory["containers"].items())
    rows.append(("sum of the above", sum(size for _, size in rows)))
    rows.append(("tracemalloc, per message", memory["traced_after_run"] / memory["messages"]))
    if markdown:
        lines = ["| part | bytes/message |", "|---|---:|"]
        lines += [f"| {name} | {size:,.1f} |" for name, size in rows]
    else:
        width = max(len(name) for name, _ in rows)
        lines = [f"{name.ljust(width)}  {size:8,.1f} B" for name, size in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=FULL, help="messages in all")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE:,} messages (a CI check)")
    parser.add_argument("--batch-size", type=int, help="default: min(50,000, messages / 20)")
    parser.add_argument("--callbacks", action="store_true", help="keep the callback_url")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument("--profile", action="store_true", help="print cProfile of both phases")
    parser.add_argument("--strict", action="store_true", help="exit 2 when a target is missed")
    parser.add_argument("--phase", choices=("timing", "memory"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    total = SMOKE if args.smoke else args.messages
    batch = args.batch_size or min(BATCH_MAX, max(1, math.ceil(total / 20)))

    if args.phase is not None:  # a child: one measurement, printed as JSON
        result = run_once(total, batch, args.callbacks, args.phase == "memory", profile=False)
        print(RESULT + json.dumps(result), flush=True)
        return 0

    print(
        f"bench_engine: {total:,} messages in batches of {batch:,}, seed 1, frozen clock, "
        f"callback_url {'on' if args.callbacks else 'off'}; python {platform.python_version()}, "
        f"{os.cpu_count()} cpu(s); load average at start: {load_average()}",
        flush=True,
    )
    timing = child(total, batch, args.callbacks, "timing")
    print(
        f"  timing run: accept {timing['accept_s']:.2f} s, run {timing['run_s']:.2f} s "
        f"(load average {load_average()})",
        flush=True,
    )
    memory = child(total, batch, args.callbacks, "memory")
    print(f"  memory run: {memory['traced_after_run'] / total:,.0f} B/message traced\n", flush=True)
    text, ok = table(timing, memory, args.markdown)
    print(text)
    print("\nWhere a stored message's bytes go (the columns of its job, per message):")
    print(breakdown(memory, args.markdown))
    if not args.strict:
        print("\n(targets are reported, not asserted)")
    if args.profile:
        print("\ncProfile, in-process (times inflated by the profiler):", flush=True)
        profiled = run_once(total, batch, args.callbacks, memory=False, profile=True)
        print("--- accept phase ---")
        print(profiled["profile_accept"])
        print("--- run phase ---")
        print(profiled["profile_run"])
    return 2 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
