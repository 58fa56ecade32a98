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
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
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
TITLE_PG = "Day one: 1M customers on the PostgreSQL store"
BATCH = 10_000
DRAIN_TIMEOUT = 1800.0


class Peak:
    """Peak RSS of some processes and the machine's 1-minute load average, sampled every
    0.5 s in a thread (other developers' work shares the machine: the load says how much)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids, self.peak = pids, dict.fromkeys(pids, 0.0)
        self.loads: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.loads.append(os.getloadavg()[0])
            for name, pid in self.pids.items():
                with contextlib.suppress(Exception):
                    self.peak[name] = max(self.peak[name], stack.rss_mb(pid))

    def load(self) -> str:
        """The load average seen so far: min / mean / max."""
        if not self.loads:
            return "n/a"
        mean = sum(self.loads) / len(self.loads)
        return f"{min(self.loads):.1f} / {mean:.1f} / {max(self.loads):.1f}"

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


async def ingest(
    st: stack.Stack, lines: list[str], times: list[float], checkpoint: Callable[[], None]
) -> None:
    """POST the NDJSON lines in batches of 10,000; seconds per batch into `times`."""
    headers = {"Content-Type": "application/x-ndjson", **st.auth("crm")}
    async with httpx.AsyncClient(base_url=st.api_url, timeout=600) as http:
        for start in range(0, len(lines), BATCH):
            body = "\n".join(lines[start : start + BATCH])
            t0 = time.perf_counter()
            r = await http.post("/v1/customers:batch", content=body, headers=headers)
            times.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text[:500]
            assert r.json()["failed"] == 0, r.text[:500]
            if len(times) % 10 == 0:
                checkpoint()


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


async def run_history(address: str) -> dict[str, float]:
    """From every segmentation run's history: failed activity attempts, and where the run's
    time went: activities running (per type, summed) and workflow tasks (scheduled ->
    completed, summed: the worker's turn-around between steps)."""
    client = await Client.connect(address)
    out = {"failed": 0.0, "workflow_tasks": 0.0}
    scheduled: dict[int, str] = {}
    started: dict[int, Any] = {}
    wft_at = None
    async for wf in client.list_workflows("WorkflowType = 'segmentation_run'"):
        async for e in client.get_workflow_handle(wf.id, run_id=wf.run_id).fetch_history_events():
            at = e.event_time.ToDatetime()
            if e.HasField("activity_task_failed_event_attributes"):
                out["failed"] += 1
            if e.HasField("workflow_task_scheduled_event_attributes"):
                wft_at = at
            elif e.HasField("workflow_task_completed_event_attributes") and wft_at is not None:
                out["workflow_tasks"] += (at - wft_at).total_seconds()
            elif e.HasField("activity_task_scheduled_event_attributes"):
                scheduled[e.event_id] = (
                    e.activity_task_scheduled_event_attributes.activity_type.name
                )
            elif e.HasField("activity_task_started_event_attributes"):
                started[e.activity_task_started_event_attributes.scheduled_event_id] = at
            elif e.HasField("activity_task_completed_event_attributes"):
                sid = e.activity_task_completed_event_attributes.scheduled_event_id
                if sid in started:
                    name = scheduled.get(sid, "?")
                    out[name] = out.get(name, 0.0) + (at - started[sid]).total_seconds()
    return out


LOG_PATTERNS = {
    "locked": "database is locked",  # SQLite's busy timeout (store or the dev server's file)
    "lock_timeout": "canceling statement due to lock timeout",  # PostgreSQL's lock_timeout
    "failed_attempts": "Completing activity as failed",  # any activity attempt of the worker
}


def log_counts(workdir: Path) -> dict[str, dict[str, int]]:
    """Lines of each LOG_PATTERNS kind per log (api, worker, temporal: the dev server's own
    SQLite file, not the segflow store)."""
    texts = {p.stem: p.read_text(errors="replace") for p in sorted(workdir.glob("*.log"))}
    return {kind: {name: len(re.findall(pattern, text)) for name, text in texts.items()}
            for kind, pattern in LOG_PATTERNS.items()}  # fmt: skip


@contextlib.contextmanager
def postgres(use: bool) -> Iterator[str]:
    if not use:
        yield ""
        return
    from tests import servers

    with servers.postgres_server() as url:
        yield url


async def measure(
    args: argparse.Namespace, workdir: Path, res: dict[str, Any], checkpoint: Callable[[], None]
) -> None:
    """Fill `res` phase by phase, calling `checkpoint` after each (partial figures survive a
    run cut short)."""
    records = demo_records(args.n)
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    path = workdir / "crm.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res["segment_cli"] = segment_cli(path)
    res["library"] = library_seconds(records)
    del records
    with (
        postgres(args.postgres) as pg,
        stack.local_stack(workdir / "stack", task_queue="dayone", database_url=pg) as st,
    ):
        url = st.settings.store_url
        assert st.worker is not None and st.api is not None
        with Peak({"api": st.api.pid, "worker": st.worker.pid}) as peak:
            res["peak"], res["load"] = peak.peak, peak.load
            res["batches"] = []
            await ingest(st, lines, res["batches"], checkpoint)
            res["run"] = await population_run(st, url)
            res["logs"] = log_counts(workdir / "stack")
            checkpoint()
            res["drain"] = await drain(url, timeout=args.drain_timeout)
        res["load"] = peak.load()
        checkpoint()
        res["raw"] = await raw_starts(st.settings.temporal_address, min(2_000, args.n // 10))
        res["history"] = await run_history(st.settings.temporal_address)
        res["failed_activities"] = int(res["history"]["failed"])
        res["failed_transitions"] = count(url, "SELECT count(*) FROM transitions "
                                          "WHERE status = 'failed'")  # fmt: skip
        res["customers"] = count(url, "SELECT count(*) FROM customers")
        res["logs"] = log_counts(workdir / "stack")
    checkpoint()


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _rows(n: int, r: dict[str, Any]) -> list[str]:
    """The table rows of the phases measured so far (a run cut short says where it stopped)."""
    rows: list[str] = []
    batches = r.get("batches") or []
    if batches:
        rate, seg_rate = 10_000 * len(batches) / sum(batches), n / r["segment_cli"]
        if len(batches) * 10_000 >= n:
            rate = n / sum(batches)
        rows += [
            f"| ingest: `POST /v1/customers:batch` x {len(batches)} | {rate:,.0f} customers/s "
            f"| `segflow segment` same file: {seg_rate:,.0f}/s | {rate / seg_rate:.2f}x "
            f"| >= 0.25x: {_met(rate / seg_rate >= 0.25)} |",
            f"| batch time first -> last | {batches[0]:.2f} s -> {batches[-1]:.2f} s "
            f"| first batch | {batches[-1] / batches[0]:.2f}x | <= 1.2x: "
            f"{_met(batches[-1] <= 1.2 * batches[0])} |",
        ]
    run = r.get("run")
    if run is not None:
        working = run["working"] if run["working"] is not None else float("nan")
        rows += [
            f"| population run ({run['progress']['batches']} batches) | {run['seconds']:.1f} s "
            f"| library `rules.segment_population`: {r['library']:.1f} s "
            f"| {run['seconds'] / r['library']:.1f}x | <= 3x: "
            f"{_met(run['seconds'] <= 3 * r['library'])} |",
            f"| run working after POST ({run['pending_at_start']:,} transitions pending) "
            f"| {working:.1f} s | - | - | <= 5 s: {_met(working <= 5)} |",
        ]
    drained, raw = r.get("drain"), r.get("raw")
    if drained is not None and raw is not None:
        relay = drained["rate"] or 0.0
        rows.append(
            f"| relay drain ({drained['applied']:,} rows) | {relay:,.0f} rows/s "
            f"| raw `start_workflow`: {raw:,.0f}/s | {relay / raw:.2f}x "
            f"| >= 0.8x: {_met(relay >= 0.8 * raw)} |"
        )
    elif drained is not None:
        rate = drained["rate"] or 0.0
        rows.append(f"| relay drain ({drained['applied']:,} rows) | {rate:,.0f} rows/s "
                    "| not reached | - | >= 0.8x |")  # fmt: skip
    return rows


def markdown(args: argparse.Namespace, r: dict[str, Any]) -> str:
    """The section for what `r` holds (complete or partial)."""
    n = args.n
    store = "PostgreSQL" if args.postgres else "SQLite"
    cmd = f"bench/bench_dayone.py --n {n}" + (" --postgres" if args.postgres else "")
    if args.drain_timeout != DRAIN_TIMEOUT:
        cmd += f" --drain-timeout {args.drain_timeout:.0f}"
    load = r["load"]() if callable(r.get("load")) else r.get("load", "n/a")
    notes: list[str] = []
    if "customers" not in r:
        batches = r.get("batches") or []
        phase = ("relay drain" if "run" in r else "population run" if len(batches) * 10_000 >= n
                 else f"ingest (batch {len(batches)} of {-(-n // 10_000)})")  # fmt: skip
        notes.append(f"**Partial figures**: the run was cut short or is still going during the "
                     f"{phase}; the rows above are what was measured.")  # fmt: skip
    run, drained = r.get("run"), r.get("drain")
    if run is not None:
        p = run["progress"]
        notes.append(f"Run: changed {p['changed']:,} assignments, queued "
                     f"{p['processes_started']:,} starts and "
                     f"{p['processes_stopped']:,} stops.")  # fmt: skip
    if drained is not None:
        notes.append(f"Outbox rows left pending when the drain measurement stopped: "
                     f"{drained['left']:,}.")  # fmt: skip
    if "peak" in r:
        notes.append(f"Peak RSS: API **{r['peak']['api']:.0f} MB**, worker "
                     f"**{r['peak']['worker']:.0f} MB**. Load average (1 min) while the stack "
                     f"ran, min / mean / max: **{load}**.")  # fmt: skip
    if "logs" in r:
        logs = r["logs"]
        per_log = ", ".join(f"{k} {v}" for k, v in logs["locked"].items())
        notes.append(f"\"database is locked\" log lines: **{sum(logs['locked'].values())}** "
                     f"({per_log}); PostgreSQL lock timeouts: "
                     f"**{sum(logs['lock_timeout'].values())}**; failed activity attempts of "
                     f"any process in the worker's log: "
                     f"**{sum(logs['failed_attempts'].values())}** (retried).")  # fmt: skip
    if "customers" in r:
        notes.append(f"Customers stored: {r['customers']:,}; failed transitions: "
                     f"**{r['failed_transitions']}**; failed activity attempts in the run: "
                     f"**{r['failed_activities']}**.")  # fmt: skip
    if "history" in r:
        h = r["history"]
        notes.append(f"Where the run's time went (its history, summed): plan activity "
                     f"{h.get('segmentation_plan', 0):.1f} s, batch activities "
                     f"{h.get('segmentation_batch', 0):.1f} s, workflow tasks (scheduled -> "
                     f"completed) {h['workflow_tasks']:.1f} s.")  # fmt: skip
    if r.get("batches"):
        notes.append("Batch times (s): " + ", ".join(f"{b:.2f}" for b in r["batches"]) + ".")
    notes.append("History events per call-back cycle: see \"History size\" (<= 20 for a "
                 "plain cycle).")  # fmt: skip
    return "\n".join([
        f"Command: `.venv/bin/python {cmd}` (store: {store}; dev server, uvicorn and one worker "
        "with its relay on 127.0.0.1).",
        "",
        stack.machine(),
        "",
        "| measured | value | baseline (same run) | ratio | target |",
        "|---|---|---|---|---|",
        *_rows(n, r),
        "",
        " ".join(notes),
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 customers (smoke test)")
    parser.add_argument("--n", type=int, default=None, help="customers (default 100,000)")
    parser.add_argument("--postgres", action="store_true", help="the store on PostgreSQL")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=DRAIN_TIMEOUT,
        help="stop measuring the relay after this many seconds (rows left are reported)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args(argv)
    args.n = args.n or (20_000 if args.quick else 100_000)
    title = TITLE_PG if args.postgres else TITLE_SQLITE
    res: dict[str, Any] = {}

    def checkpoint() -> None:
        # partial figures land in BENCHMARKS.md as they come (a long run may be cut short)
        if not args.no_write and "segment_cli" in res:
            stack.write_section(title, markdown(args, res))

    with tempfile.TemporaryDirectory(prefix="dayone-") as tmp:
        try:
            asyncio.run(measure(args, Path(tmp), res, checkpoint))
        finally:
            checkpoint()
    print(markdown(args, res))


if __name__ == "__main__":
    main()
