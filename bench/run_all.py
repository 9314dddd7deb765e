"""Run every bench/bench_*.py, each in its own process with this Python, passing the command
line through (`--smoke` for tiny sizes). Exits non-zero if any benchmark fails.

    .venv/bin/python bench/run_all.py [--smoke]
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if not scripts:
        print("run_all: no bench_*.py found", file=sys.stderr)
        return 1
    failed: list[str] = []
    for script in scripts:
        print(f"=== {script.name} {' '.join(argv)}".rstrip(), flush=True)
        started = time.perf_counter()
        # Output goes straight to ours, so it appears as the benchmark prints it.
        code = subprocess.run([sys.executable, str(script), *argv], cwd=HERE.parent).returncode
        took = time.perf_counter() - started
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"=== {script.name}: {status} in {took:.1f} s\n", flush=True)
        if code != 0:
            failed.append(script.name)
    if failed:
        print(f"run_all: {len(failed)} of {len(scripts)} failed: {', '.join(failed)}")
        return 1
    print(f"run_all: all {len(scripts)} benchmark(s) ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
