"""Every benchmark of issue 7, one after another (`make bench`); each writes its own section
of BENCHMARKS.md (the others are kept).

    .venv/bin/python bench/run_all.py [--quick] [--only api,starts,...]

1. segmentation: bench/bench_segmentation.py at 100k customers and, unless --quick, at 1M
2. api: bench/bench_api.py (PUT /v1/customers/{id} vs GET /healthz)
3. starts: bench/bench_starts.py (API vs raw Temporal client)
   outbox: bench/bench_outbox.py (upserts on SQLite and PostgreSQL, relay drain vs raw)
4. roundtrip: bench/bench_roundtrip.py (task completed -> next task in the inbox)
5. history: bench/bench_history.py (events per run over ten simulated years)
6. memory: bench/bench_memory.py (worker RSS with 10,000 live workflows)
6b. dayone: bench/bench_dayone.py (100k customers from the CRM batch API to running processes)
7. load: unless --quick, the load fault test at full size (SEGFLOW_LOAD_FULL=1: 50 clients,
   20,000 customers, 2,000 tasks), its outcome and duration in the "Load test" section.

Each runs in its own process against its own dev server, so one's leftovers never load the
next. --quick runs every benchmark in its smoke-test size.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import stack  # noqa: E402

BENCHES = ["segmentation", "api", "starts", "outbox", "roundtrip", "history", "memory", "dayone",
           "load"]  # fmt: skip


def commands(name: str, quick: bool) -> list[list[str]]:
    py = sys.executable
    if name == "segmentation":
        sizes = [100_000] if quick else [100_000, 1_000_000]
        return [[py, str(HERE / "bench_segmentation.py"), "--n", str(n)] for n in sizes]
    if name == "load":
        return [] if quick else [[py, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                  "tests/faults/test_load.py"]]  # fmt: skip
    return [[py, str(HERE / f"bench_{name}.py"), *(["--quick"] if quick else [])]]


def load_section(ok: bool, seconds: float, tail: str) -> str:
    return "\n".join(
        [
            "Command: `SEGFLOW_LOAD_FULL=1 .venv/bin/python -m pytest tests/faults/test_load.py` "
            "(run by `make bench`; CI runs the same test scaled down).",
            "",
            stack.machine(),
            "",
            f"50 concurrent clients upsert 20,000 customers and complete 2,000 tasks through "
            f"uvicorn + worker + dev server: **{'passed' if ok else 'FAILED'}** in "
            f"{seconds:.0f} s (zero errors and exact store counts are the test's assertions).",
            "",
            "```",
            tail.strip()[-1500:],
            "```",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes")
    parser.add_argument("--only", default="", help="comma-separated subset of " + ",".join(BENCHES))
    args = parser.parse_args()
    chosen = [b for b in BENCHES if not args.only or b in args.only.split(",")]
    failed: list[str] = []
    for name in chosen:
        for cmd in commands(name, args.quick):
            print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
            t0 = time.perf_counter()
            if name == "load":
                env = {**os.environ, "SEGFLOW_LOAD_FULL": "1"}
                done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
                took = time.perf_counter() - t0
                out = done.stdout + done.stderr
                stack.write_section("Load test", load_section(done.returncode == 0, took, out))
                print(done.stdout[-2000:], flush=True)
            else:
                done = subprocess.run(cmd, cwd=ROOT)
            if done.returncode != 0:
                failed.append(name)
            took = time.perf_counter() - t0
            print(f"== {name}: exit {done.returncode} in {took:.0f} s", flush=True)
    if failed:
        print("failed:", ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
