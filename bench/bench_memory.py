"""Worker memory (issue 7, #6): RSS of the worker process (`python worker.py`) with 10,000 live
workflows vs the same worker idle, in the same run.

    .venv/bin/python bench/bench_memory.py [--quick] [--n 10000]

The live workflows are call-backs scheduled 30 days ahead (`first_delay_seconds`): each has
run its first workflow task (search attributes, stage `scheduled`) and sleeps on its timer,
which is how most of a real population's call-backs spend their time. They are started with
the raw client at bounded concurrency (32, the default `start_concurrency`); the RSS is read
(psutil) once the worker has run every first task (visibility count of Stage = scheduled).
The SDK keeps at most `max_cached_workflows` (default 1,000) workflows in its sticky cache;
the rest live only on the server, which is why the RSS stays bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import stack
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from workflows.inputs import CallbackInput

TITLE = "Worker memory"
DELAY = 30 * 86400.0


async def measure(st: stack.Stack, n: int) -> dict[str, Any]:
    assert st.worker is not None
    client = await Client.connect(st.settings.temporal_address)
    await asyncio.sleep(5)  # the worker connects and starts polling
    idle = stack.rss_mb(st.worker.pid)
    gate = asyncio.Semaphore(32)

    async def start(i: int) -> None:
        async with gate:
            await client.start_workflow(
                "callback",
                CallbackInput(f"M{i}", first_delay_seconds=DELAY),
                id=f"callback:M{i}",
                task_queue=st.settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )

    t0 = time.perf_counter()
    await asyncio.gather(*(start(i) for i in range(n)))
    started = time.perf_counter() - t0
    peak = idle
    query = "WorkflowType = 'callback' AND Stage = 'scheduled'"
    scheduled = 0
    deadline = time.perf_counter() + 600
    while time.perf_counter() < deadline:
        peak = max(peak, stack.rss_mb(st.worker.pid))
        scheduled = (await client.count_workflows(query)).count
        if scheduled >= n:
            break
        await asyncio.sleep(1)
    settled = time.perf_counter() - t0
    await asyncio.sleep(5)
    live = stack.rss_mb(st.worker.pid)
    running = (await client.count_workflows("ExecutionStatus = 'Running'")).count
    return {"idle": idle, "live": live, "peak": max(peak, live), "scheduled": scheduled,
            "running": running, "started_s": started, "settled_s": settled}  # fmt: skip


def markdown(args: argparse.Namespace, res: dict[str, Any]) -> str:
    cmd = "bench/bench_memory.py" + (" --quick" if args.quick else "")
    extra = res["live"] - res["idle"]
    cached = min(args.n, 1000)
    return "\n".join(
        [
            f"Command: `.venv/bin/python {cmd}` (n={args.n:,} call-back workflows sleeping on a "
            "30-day timer; worker subprocess on the real dev server).",
            "",
            stack.machine(),
            "",
            "| worker | workflows | RSS MB |",
            "|---|---|---|",
            f"| baseline: idle (connected, polling) | 0 | {res['idle']:.0f} |",
            f"| live workflows, after their first task | {res['running']:,} running | "
            f"{res['live']:.0f} |",
            f"| peak while they were being started | | {res['peak']:.0f} |",
            "",
            f"**+{extra:.0f} MB** for {res['running']:,} live workflows over the idle worker "
            f"({extra * 1024 / max(cached, 1):.0f} KB per cached workflow; the SDK caches at most "
            f"{cached:,}, the others are on the server only). Started in {res['started_s']:.0f} s "
            f"({args.n / res['started_s']:.0f}/s at 32 concurrent starts); every first task run "
            f"after {res['settled_s']:.0f} s ({res['scheduled']:,} at stage `scheduled`).",
        ]
    )


def run(args: argparse.Namespace) -> str:
    with (
        tempfile.TemporaryDirectory(prefix="segflow-bench-mem-") as tmp,
        stack.local_stack(Path(tmp), api=False, task_queue="bench-mem") as st,
    ):
        res = asyncio.run(measure(st, args.n))
    body = markdown(args, res)
    if not args.no_write:
        stack.write_section(TITLE, body)
    return body


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    return stack.sized_args(__doc__, argv, what="live workflows", quick=1000, full=10_000)


if __name__ == "__main__":
    print(run(parse()))
