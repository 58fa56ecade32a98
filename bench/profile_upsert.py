"""In-process cost of one customer upsert (services.customers.upsert) on SQLite and
PostgreSQL: wall time per upsert, SQL statements per upsert, and optionally a cProfile of the
whole loop. No HTTP, no Temporal: the store, the rules engine and the service only.

    .venv/bin/python bench/profile_upsert.py [--n 300] [--profile] [--no-postgres] [--json]

Each upsert creates a new customer of the deterministic demo population (the PUT benchmark's
records), one session and transaction each, as the API does. Timed in rounds of 50; the
best round is reported beside the median (the machine is shared: others only add time).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

import rules
from activities import policy_store
from activities.population import demo_records
from config import ROOT
from services import customers
from store import db
from tests import servers

ROUND = 50  # upserts per timed round


@contextmanager
def counting(engine: Engine) -> Iterator[Counter[str]]:
    """Counts the statements sent to `engine` by their first word."""
    seen: Counter[str] = Counter()

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen[statement.split(None, 1)[0].upper()] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def measure(url: str, n: int, profile: Path | None) -> dict[str, Any]:
    """Upsert `n` new demo customers one transaction each; time and count them."""
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    with sessions.begin() as s:
        policy_store.activate_directory(s, ROOT / "policies", "bench")
    engines: dict[str, rules.Engine] = {}

    def engine_for(bundle: rules.Bundle) -> rules.Engine:
        if bundle.version not in engines:
            engines[bundle.version] = rules.Engine(bundle)
        return engines[bundle.version]

    records = demo_records(n + 20)
    for rec in records[n:]:  # warm-up: engine, caches, connection pool
        with sessions() as s:
            customers.upsert(s, engine_for, customers.validate(rec), "bench", None)
    prof = cProfile.Profile() if profile else None
    walls: list[float] = []
    cpus: list[float] = []
    with counting(engine) as seen:
        if prof:
            prof.enable()
        for start in range(0, n, ROUND):
            t0, c0 = time.perf_counter(), time.process_time()
            for rec in records[start : start + ROUND]:
                with sessions() as s:
                    customers.upsert(s, engine_for, customers.validate(rec), "bench", None)
            done = len(records[start : start + ROUND])
            walls.append((time.perf_counter() - t0) / done)
            cpus.append((time.process_time() - c0) / done)
        if prof:
            prof.disable()
    engine.dispose()
    if prof and profile:
        prof.dump_stats(profile)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
    # the best round: the machine is shared, other processes only ever add time
    return {
        "ms": min(walls) * 1000,
        "median_ms": statistics.median(walls) * 1000,
        "cpu_ms": min(cpus) * 1000,
        "statements": {k: v / n for k, v in seen.items()},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--profile", action="store_true", help="cProfile, printed and kept")
    p.add_argument("--no-postgres", action="store_true")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args()
    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="segflow-profile-") as tmp, ExitStack() as ex:
        prof = Path(tmp) / "sqlite.prof" if args.profile else None
        out["SQLite"] = measure(f"sqlite:///{tmp}/store.db", args.n, prof)
        if not args.no_postgres and servers.postgres_bin() is not None:
            url = ex.enter_context(servers.postgres_server())
            prof = Path(tmp) / "pg.prof" if args.profile else None
            out["PostgreSQL"] = measure(url, args.n, prof)
    if args.json:
        print(json.dumps(out))
        return
    for store, res in out.items():
        total = sum(res["statements"].values())
        detail = ", ".join(f"{k} {v:.1f}" for k, v in sorted(res["statements"].items()))
        print(
            f"{store}: {res['ms']:.1f} ms per upsert (best round of {ROUND}; median round "
            f"{res['median_ms']:.1f} ms; this process's CPU {res['cpu_ms']:.1f} ms), "
            f"{total:.1f} statements ({detail})"
        )


if __name__ == "__main__":
    main()
