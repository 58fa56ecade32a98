"""Day one (issue 13): from an empty store, N customers through the CRM batch API, a population
run while the customer processes are still being started, and the outbox drained.

    .venv/bin/python bench/bench_dayone.py [--quick] [--n 100000] [--postgres] [--no-write]

Stack: the Temporal dev server (WAL pragmas), uvicorn, one worker process (both task queues,
its outbox relay), the store on SQLite (default) or on a local PostgreSQL (--postgres).
Figures, each with its baseline from the same run:
- ingest: `POST /v1/customers:batch` of 10,000 NDJSON records, one batch after another, vs
  `segflow segment` on the same file (target >= 0.25x; last batch <= 1.2x the first);
- population run: `POST /v1/segmentation-runs` right after the ingest (the relay is still
  starting the provisional processes): seconds until a worker reports progress (target <= 5 s)
  and run time vs the library path `rules.segment_population` on the same records (<= 3x);
- relay: outbox rows applied per second while rows were pending, vs raw
  `client.start_workflow` of the same workflow type at 32 concurrent starts (>= 0.8x);
- peak RSS of the API and the worker; "database is locked" lines, failed transitions and
  failed activities of the run (target 0 each).
History events per call-back cycle: see the "History size" section (bench_history.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import stack
from sqlalchemy import create_engine, text
from temporalio.client import Client

import rules
from activities.population import demo_records
from config import ROOT
from workflows.inputs import CallbackInput

TITLE_SQLITE = "Day one: 100k customers on the embedded stack (SQLite store)"
TITLE_PG = "Day one: customers on the PostgreSQL store"
BATCH = 10_000


class Peak:
    """Peak RSS of some processes, sampled every 0.5 s in a thread."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids, self.peak = pids, dict.fromkeys(pids, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for name, pid in self.pids.items():
                with contextlib.suppress(Exception):
                    self.peak[name] = max(self.peak[name], stack.rss_mb(pid))

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def count(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar() or 0)
    finally:
        engine.dispose()


def segment_cli(path: Path) -> float:
    """Seconds of `segflow segment FILE --out /dev/null` (the baseline of the ingest)."""
    t0 = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "segflow"), "segment", str(path), "--out",
                    "/dev/null"], check=True, cwd=ROOT, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - t0


def library_seconds(records: list[dict[str, Any]]) -> float:
    """The library path over the same records (numpy back end, ranks included)."""
    bundle = rules.load_bundle(ROOT / "policies")
    t0 = time.perf_counter()
    rules.segment_population(bundle, records, validated=True)
    return time.perf_counter() - t0


async def ingest(st: stack.Stack, lines: list[str]) -> list[float]:
    """POST the NDJSON lines in batches of 10,000; seconds per batch."""
    times: list[float] = []
    headers = {"Content-Type": "application/x-ndjson", **st.auth("crm")}
    async with httpx.AsyncClient(base_url=st.api_url, timeout=600) as http:
        for start in range(0, len(lines), BATCH):
            body = "\n".join(lines[start : start + BATCH])
            t0 = time.perf_counter()
            r = await http.post("/v1/customers:batch", content=body, headers=headers)
            times.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text[:500]
            assert r.json()["failed"] == 0, r.text[:500]
    return times


async def population_run(st: stack.Stack, url: str) -> dict[str, Any]:
    """Start a run while the relay is busy; seconds until it works and until it is done."""
    pending = count(url, "SELECT count(*) FROM transitions WHERE status = 'pending'")
    async with httpx.AsyncClient(base_url=st.api_url, timeout=60) as http:
        t0 = time.perf_counter()
        r = await http.post("/v1/segmentation-runs", json={"batch_size": 20_000,
                            "parallelism": 2}, headers=st.auth("crm"))  # fmt: skip
        assert r.status_code == 202, r.text
        status_url = r.json()["status_url"]
        working = None
        while True:
            p = (await http.get(status_url, headers=st.auth("crm"))).json()
            if working is None and p["stage"] not in ("waiting for a worker", "unknown"):
                working = time.perf_counter() - t0
            if p["status"] == "completed":
                return {"working": working, "seconds": time.perf_counter() - t0,
                        "progress": p, "pending_at_start": pending}  # fmt: skip
            await asyncio.sleep(0.2)


async def drain(url: str, timeout: float) -> dict[str, Any]:
    """Wait until the outbox is empty; the relay's rate while rows were pending."""
    samples: list[tuple[float, int, int]] = []
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        pending = count(url, "SELECT count(*) FROM transitions WHERE status = 'pending'")
        done = count(url, "SELECT count(*) FROM transitions WHERE status <> 'pending'")
        samples.append((time.perf_counter(), pending, done))
        if pending == 0:
            break
        await asyncio.sleep(1.0)
    busy = [(b[0] - a[0], b[2] - a[2]) for a, b in itertools.pairwise(samples)
            if a[1] > 0]  # fmt: skip
    seconds = sum(s for s, _ in busy)
    applied = sum(n for _, n in busy)
    return {"rate": applied / seconds if seconds else None, "applied": applied,
            "seconds": seconds, "left": samples[-1][1] if samples else None}  # fmt: skip


async def raw_starts(address: str, n: int, concurrency: int = 32) -> float:
    """Starts per second of `client.start_workflow` (callback, an unpolled queue)."""
    client = await Client.connect(address)
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await client.start_workflow("callback", CallbackInput(f"RAW{i:07d}"),
                                        id=f"raw:{i}", task_queue="bench-raw")  # fmt: skip

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return n / (time.perf_counter() - t0)


async def failed_activities(address: str) -> int:
    """Failed activity attempts in every segmentation run's history."""
    client = await Client.connect(address)
    failed = 0
    async for wf in client.list_workflows("WorkflowType = 'segmentation_run'"):
        async for e in client.get_workflow_handle(wf.id, run_id=wf.run_id).fetch_history_events():
            failed += e.HasField("activity_task_failed_event_attributes")
    return failed


def locked_lines(workdir: Path) -> int:
    return sum(len(re.findall("database is locked", p.read_text(errors="replace")))
               for p in workdir.glob("*.log"))  # fmt: skip


@contextlib.contextmanager
def postgres(use: bool) -> Iterator[str]:
    if not use:
        yield ""
        return
    from tests import servers

    with servers.postgres_server() as url:
        yield url


async def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    records = demo_records(args.n)
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    path = workdir / "crm.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res: dict[str, Any] = {"segment_cli": segment_cli(path), "library": library_seconds(records)}
    with (
        postgres(args.postgres) as pg,
        stack.local_stack(workdir / "stack", task_queue="dayone", database_url=pg) as st,
    ):
        url = st.settings.store_url
        assert st.worker is not None and st.api is not None
        with Peak({"api": st.api.pid, "worker": st.worker.pid}) as peak:
            res["batches"] = await ingest(st, lines)
            res["run"] = await population_run(st, url)
            res["drain"] = await drain(url, timeout=args.drain_timeout)
        res["peak"] = peak.peak
        res["raw"] = await raw_starts(st.settings.temporal_address, min(2_000, args.n // 10))
        res["failed_activities"] = await failed_activities(st.settings.temporal_address)
        res["failed_transitions"] = count(url, "SELECT count(*) FROM transitions "
                                          "WHERE status = 'failed'")  # fmt: skip
        res["customers"] = count(url, "SELECT count(*) FROM customers")
        res["locked"] = locked_lines(workdir / "stack")
    return res


def markdown(args: argparse.Namespace, r: dict[str, Any]) -> str:
    n, batches = args.n, r["batches"]
    ingest_s = sum(batches)
    ingest_rate, seg_rate = n / ingest_s, n / r["segment_cli"]
    run, drained = r["run"], r["drain"]
    relay = drained["rate"] or 0.0
    store = "PostgreSQL" if args.postgres else "SQLite"
    cmd = f"bench/bench_dayone.py --n {n}" + (" --postgres" if args.postgres else "")

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    working = run["working"] if run["working"] is not None else float("nan")
    rows = [
        f"| ingest: `POST /v1/customers:batch` x {len(batches)} | {ingest_rate:,.0f} customers/s "
        f"| `segflow segment` same file: {seg_rate:,.0f}/s | {ingest_rate / seg_rate:.2f}x "
        f"| >= 0.25x: {met(ingest_rate / seg_rate >= 0.25)} |",
        f"| batch time first -> last | {batches[0]:.2f} s -> {batches[-1]:.2f} s "
        f"| first batch | {batches[-1] / batches[0]:.2f}x | <= 1.2x: "
        f"{met(batches[-1] <= 1.2 * batches[0])} |",
        f"| population run ({run['progress']['batches']} batches) | {run['seconds']:.1f} s "
        f"| library `rules.segment_population`: {r['library']:.1f} s "
        f"| {run['seconds'] / r['library']:.1f}x | <= 3x: "
        f"{met(run['seconds'] <= 3 * r['library'])} |",
        f"| run working after POST ({run['pending_at_start']:,} transitions pending) "
        f"| {working:.1f} s | - | - | <= 5 s: {met(working <= 5)} |",
        f"| relay drain ({drained['applied']:,} rows) | {relay:,.0f} rows/s "
        f"| raw `start_workflow`: {r['raw']:,.0f}/s | {relay / r['raw']:.2f}x "
        f"| >= 0.8x: {met(relay >= 0.8 * r['raw'])} |",
    ]
    return "\n".join([
        f"Command: `.venv/bin/python {cmd}` (store: {store}; dev server, uvicorn and one worker "
        "with its relay on 127.0.0.1).",
        "",
        stack.machine(),
        "",
        "| measured | value | baseline (same run) | ratio | target |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"Customers stored: {r['customers']:,}; run changed {run['progress']['changed']:,} "
        f"assignments, queued {run['progress']['processes_started']:,} starts and "
        f"{run['progress']['processes_stopped']:,} stops; outbox rows left pending at the end: "
        f"{drained['left']}. Peak RSS: API **{r['peak']['api']:.0f} MB**, worker "
        f"**{r['peak']['worker']:.0f} MB**. \"database is locked\" log lines: "
        f"**{r['locked']}**; failed transitions: **{r['failed_transitions']}**; failed "
        f"activity attempts in the run: **{r['failed_activities']}**. Batch times (s): "
        + ", ".join(f"{b:.2f}" for b in batches) + ". History events per call-back cycle: "
        "see \"History size\" (<= 20 for a plain cycle).",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 customers (smoke test)")
    parser.add_argument("--n", type=int, default=None, help="customers (default 100,000)")
    parser.add_argument("--postgres", action="store_true", help="the store on PostgreSQL")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=1800.0,
        help="stop measuring the relay after this many seconds (rows left are reported)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args(argv)
    args.n = args.n or (20_000 if args.quick else 100_000)
    with tempfile.TemporaryDirectory(prefix="dayone-") as tmp:
        res = asyncio.run(measure(args, Path(tmp)))
    body = markdown(args, res)
    print(body)
    if not args.no_write:
        stack.write_section(TITLE_PG if args.postgres else TITLE_SQLITE, body)


if __name__ == "__main__":
    main()
