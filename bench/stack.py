"""A local segflow stack for the benchmarks: the Temporal dev server, a migrated SQLite store
with the shipped policy active, demo credentials, and the worker and the API (uvicorn) as
subprocesses, all on 127.0.0.1 under one temporary directory.

Also the small measuring helpers the benchmark modules share (percentiles, RSS, markdown
sections of BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import devstack
from config import ROOT, Settings
from store import credentials, db

BENCHMARKS = ROOT / "BENCHMARKS.md"


@dataclass
class Stack:
    """What a benchmark talks to."""

    workdir: Path
    settings: Settings
    tokens: dict[str, dict[str, str]]
    api_url: str = ""
    worker: subprocess.Popen[bytes] | None = None
    api: subprocess.Popen[bytes] | None = None
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def auth(self, role: str) -> dict[str, str]:
        """Bearer header of the demo principal of `role`."""
        return {"Authorization": f"Bearer {self.tokens[role]['token']}"}

    def env(self) -> dict[str, str]:
        """SEGFLOW_* variables that point a child process at this stack."""
        return settings_env(self.settings)


def settings_env(s: Settings) -> dict[str, str]:
    """The environment form of `s` (what `python worker.py` / uvicorn read)."""
    return {
        "SEGFLOW_VAR_DIR": str(s.var_dir),
        "SEGFLOW_DATABASE_URL": s.database_url,
        "SEGFLOW_POLICIES_DIR": str(s.policies_dir),
        "SEGFLOW_TEMPORAL_ADDRESS": s.temporal_address,
        "SEGFLOW_TASK_QUEUE": s.task_queue,
        "SEGFLOW_API_HOST": s.api_host,
        "SEGFLOW_API_PORT": str(s.api_port),
        "SEGFLOW_DEMO_CUSTOMERS": "0",
        "SEGFLOW_START_CONCURRENCY": str(s.start_concurrency),
        "SEGFLOW_LOG_LEVEL": "WARNING",
    }


def spawn_worker(s: Settings, log: Path) -> subprocess.Popen[bytes]:
    """`python worker.py` for the settings `s`."""
    return devstack.spawn([sys.executable, str(ROOT / "worker.py")], log, settings_env(s))


def spawn_api(s: Settings, log: Path) -> subprocess.Popen[bytes]:
    """uvicorn serving api.main:app for the settings `s`; waits until the port opens."""
    cmd = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", s.api_host,
           "--port", str(s.api_port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    proc = devstack.spawn(cmd, log, settings_env(s))
    devstack.wait_port(s.api_host, s.api_port, 60, proc)
    return proc


@contextmanager
def local_stack(
    workdir: Path,
    *,
    worker: bool = True,
    api: bool = True,
    task_queue: str = "bench",
    database_url: str = "",
) -> Iterator[Stack]:
    """Start the stack under `workdir` (the store: SQLite under it, or `database_url`); stop
    every child on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    port, ui_port = devstack.free_port(), devstack.free_port()
    temporal = devstack.spawn(
        devstack.temporal_command(workdir / "temporal.db", port, ui_port),
        workdir / "temporal.log",
    )
    settings = Settings(
        var_dir=workdir / "var",
        temporal_address=f"127.0.0.1:{port}",
        task_queue=task_queue,
        api_port=devstack.free_port(),
        demo_customers=0,
        database_url=database_url,
    )
    stack = Stack(workdir, settings, {}, children=[temporal])
    try:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        db.upgrade(settings.store_url)
        stack.tokens = credentials.ensure_demo(
            settings.credentials_path, settings.var_dir / "demo-credentials.json"
        )
        activate_shipped(settings)
        devstack.wait_port("127.0.0.1", port, 60, temporal)
        if worker:
            stack.worker = spawn_worker(settings, workdir / "worker.log")
            stack.children.append(stack.worker)
        if api:
            stack.api = spawn_api(settings, workdir / "api.log")
            stack.children.append(stack.api)
            stack.api_url = f"http://{settings.api_host}:{settings.api_port}"
        yield stack
    finally:
        devstack.stop_all(stack.children)


def activate_shipped(settings: Settings) -> None:
    """Register and activate policies/ in the store."""
    from activities import policy_store

    engine = db.make_engine(settings.store_url)
    try:
        with db.session_factory(engine).begin() as s:
            policy_store.activate_directory(s, settings.policies_dir, "bench")
    finally:
        engine.dispose()


def store_count(settings: Settings, sql: str) -> int:
    """One integer from the store (read-only, its own connection)."""
    path = settings.store_url.split("///", 1)[1]
    with sqlite3.connect(path, timeout=30) as conn:
        value = conn.execute(sql).fetchone()[0]
    conn.close()
    return int(value)


# ---- measuring -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[k]


def rss_mb(pid: int) -> float:
    """Resident set size of a process, MB."""
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / 2**20


def machine() -> str:
    """One line describing where and when the figures were taken."""
    return (
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; shared with other developers' test runs, "
        "so absolute times are noisy: compare each figure with its baseline from the same run."
    )


class Timer:
    """`with Timer() as t: ...; t.seconds`."""

    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0


def write_section(title: str, body: str) -> None:
    """Replace (or append) the `## {title}` section of BENCHMARKS.md; others stay as they are."""
    text = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else "# Benchmarks\n"
    head = f"## {title}\n"
    section = head + "\n" + body.strip() + "\n"
    start = text.find("\n" + head)
    start = start + 1 if start >= 0 else (0 if text.startswith(head) else -1)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(head))
        tail = "" if end < 0 else text[end:]
        text = text[:start] + section + tail
    BENCHMARKS.write_text(text, encoding="utf-8")


async def hammer(
    call: Callable[[int], Awaitable[int]], n: int, concurrency: int
) -> tuple[list[float], float, dict[int, int]]:
    """Run `call(i)` for i in 0..n-1 from `concurrency` concurrent clients.

    Returns per-request latencies (s), the wall time (s) and a count per status code."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    next_i = iter(range(n))

    async def client() -> None:
        for i in next_i:
            t0 = time.perf_counter()
            status = await call(i)
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, time.perf_counter() - t0, statuses


def latency_row(name: str, lat: list[float], wall: float) -> str:
    """A markdown table row: name, requests, p50, p99 (ms), throughput (req/s)."""
    return (
        f"| {name} | {len(lat):,} | {percentile(lat, 50) * 1000:.1f} | "
        f"{percentile(lat, 99) * 1000:.1f} | {len(lat) / wall:,.0f} |"
    )


def sized_args(
    doc: str | None,
    argv: list[str] | None,
    *,
    what: str,
    quick: int,
    full: int,
    clients: bool = False,
) -> argparse.Namespace:
    """The common command line of the sized benchmarks: --quick, --n, [--clients], --no-write.

    `args.n` is `--n`, else `quick` with --quick, else `full`."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{quick:,} {what} (smoke test)")
    parser.add_argument("--n", type=int, default=None, help=f"{what} (default {full:,})")
    if clients:
        parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args(argv)
    args.n = args.n or (quick if args.quick else full)
    return args
