"""Outbox benchmarks (issue 10): customer upserts at 20 clients on SQLite and PostgreSQL now
that no request waits for Temporal (target p99 <= 150 ms), and the relay's drain rate against
the raw Temporal client's start rate on the same dev server in the same run (target >= 0.9x).

    .venv/bin/python bench/bench_outbox.py [--quick] [--n 2000] [--clients 20]

Upserts: uvicorn on 127.0.0.1, the worker (with its relay) running, the real dev server; each
PUT creates a new customer from the deterministic demo population, so its transitions (call-
backs, visits, ...) are queued with it. PostgreSQL is a throwaway local cluster (skipped where
the server binaries are absent). Drain: `--n` closure starts queued in the store and applied
by one relay (32 concurrent calls, the default) with no worker polling, against as many raw
`client.start_workflow` calls of the same start (search attributes included) at the same
concurrency; the two paths alternate in four rounds (raw, relay, relay, raw, twice) so that neither
always follows the other's backlog on the dev server.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import stack
from sqlalchemy import text
from temporalio.client import Client
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)

from activities.population import demo_records
from services import outbox
from services.relay import Relay, RelayConfig
from store import db
from tests import servers
from workflows.attributes import SA_CUSTOMER, SA_KIND
from workflows.inputs import ClosureInput

TITLE = "Outbox: upserts on both stores, relay drain vs raw starts"
CONCURRENCY = 32


async def upserts(st: stack.Stack, n: int, clients: int) -> dict[str, Any]:
    records = demo_records(n)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=st.api_url, limits=limits, timeout=60) as http:
        crm = st.auth("crm")

        async def health(_: int) -> int:
            return (await http.get("/healthz")).status_code

        async def put(i: int) -> int:
            rec = records[i]
            r = await http.put(f"/v1/customers/{rec['customer_id']}", json=rec, headers=crm)
            return r.status_code

        await stack.hammer(health, 200, clients)  # warm-up
        base = await stack.hammer(health, n, clients)
        puts = await stack.hammer(put, n, clients)
    engine = db.make_engine(st.settings.store_url)
    with db.session_factory(engine)() as s:
        queued = s.execute(text("SELECT count(*) FROM transitions")).scalar_one()
    engine.dispose()
    return {"base": base, "put": puts, "queued": queued}


async def drain(st: stack.Stack, n: int) -> dict[str, float]:
    """Raw starts and relay starts of `n` closures each, in rounds of n/4 in the order raw,
    relay, relay, raw, raw, relay, relay, raw: the dev server is still indexing the previous
    round's starts when a round begins, so whichever path always went second would pay for
    the first (and the machine's load drifts)."""
    client = await Client.connect(st.settings.temporal_address)
    queue = st.settings.task_queue
    engine = db.make_engine(st.settings.store_url)
    sessions = db.session_factory(engine)
    relay = Relay(sessions, client, queue, RelayConfig(concurrency=CONCURRENCY, poll_seconds=0.05))
    kind = SearchAttributeKey.for_keyword(SA_KIND)
    customer = SearchAttributeKey.for_keyword(SA_CUSTOMER)

    async def raw(i: int) -> int:
        # the same start the relay makes, search attributes included
        await client.start_workflow(
            "closure",
            ClosureInput(f"RAW{i}", "R1"),
            id=f"closure:RAW{i}",
            task_queue=queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(kind, "closure"), SearchAttributePair(customer, f"RAW{i}")]
            ),
        )
        return 201

    async def raw_round(first: int, size: int) -> float:
        _, wall, _ = await stack.hammer(lambda i: raw(first + i), size, CONCURRENCY)
        return wall

    async def relay_round(first: int, size: int) -> float:
        with sessions.begin() as s:
            outbox.add(s, [outbox.start_row("closure", ClosureInput(f"OUT{i}", "R1"), "bench")
                           for i in range(first, first + size)])  # fmt: skip
        before = relay.applied
        t0 = time.perf_counter()
        await relay.run(until_idle=True)
        assert relay.applied - before == size, (relay.applied - before, size)
        return time.perf_counter() - t0

    await stack.hammer(raw, 20, 1)  # warm-up
    size = max(1, n // 4)  # each path starts n in all
    walls = {"raw": 0.0, "relay": 0.0}
    for r, path in enumerate(2 * ("raw", "relay", "relay", "raw")):
        walls[path] += await (raw_round if path == "raw" else relay_round)(1000 + r * size, size)
    engine.dispose()
    return {"raw": 4 * size / walls["raw"], "relay": 4 * size / walls["relay"]}


def run(args: argparse.Namespace) -> str:
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="segflow-bench-outbox-") as tmp, ExitStack() as ex:
        with stack.local_stack(Path(tmp) / "sqlite") as st:
            results["SQLite"] = asyncio.run(upserts(st, args.n, args.clients))
        with stack.local_stack(Path(tmp) / "drain", worker=False, api=False) as st:
            rates = asyncio.run(drain(st, args.n))
        if servers.postgres_bin() is not None:
            url = ex.enter_context(servers.postgres_server())
            db.upgrade(url)
            with stack.local_stack(Path(tmp) / "pg", database_url=url) as st:
                results["PostgreSQL"] = asyncio.run(upserts(st, args.n, args.clients))
    body = markdown(args, results, rates)
    if not args.no_write:
        stack.write_section(TITLE, body)
    return body


def markdown(
    args: argparse.Namespace, results: dict[str, dict[str, Any]], rates: dict[str, float]
) -> str:
    cmd = "bench/bench_outbox.py" + (" --quick" if args.quick else "")
    rows = []
    verdicts = []
    for store, res in results.items():
        b_lat, b_wall, _ = res["base"]
        p_lat, p_wall, p_status = res["put"]
        rows.append(stack.latency_row(f"{store}: baseline `GET /healthz`", b_lat, b_wall))
        rows.append(stack.latency_row(f"{store}: `PUT /v1/customers/{{id}}`", p_lat, p_wall))
        p99 = stack.percentile(p_lat, 99) * 1000
        met = "met" if p99 <= 150 else "NOT met"
        verdicts.append(
            f"{store} PUT p99 {p99:.0f} ms ({met}; status codes {p_status}; "
            f"{res['queued']:,} transitions queued)"
        )
    ratio = rates["relay"] / rates["raw"]
    return "\n".join([
        f"Command: `.venv/bin/python {cmd}` (n={args.n:,} per measurement, {args.clients} "
        f"clients for the upserts; {CONCURRENCY} concurrent calls for starts and the relay).",
        "",
        stack.machine(),
        "",
        "| request | requests | p50 ms | p99 ms | req/s |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "Target p99 <= 150 ms: " + "; ".join(verdicts) + ". Read each PUT row against the "
        "healthz row of the same store: the healthz baseline shows how loaded the shared "
        "machine was during the run (its p99 is the floor any request sees). On PostgreSQL "
        "every write transaction takes the audit chain's advisory lock at its first write "
        "(store/db.py, to rule out lock-order deadlocks), so upserts serialise as on SQLite.",
        "",
        "| path | starts/s |",
        "|---|---|",
        f"| baseline: raw `client.start_workflow` ({CONCURRENCY} concurrent) | "
        f"{rates['raw']:,.0f} |",
        f"| outbox relay (claim, start, record; {CONCURRENCY} concurrent) | "
        f"{rates['relay']:,.0f} |",
        "",
        f"Relay drain / raw starts: **{ratio:.2f}** (target >= 0.9: "
        f"{'met' if ratio >= 0.9 else 'NOT met'}).",
    ])  # fmt: skip


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    return stack.sized_args(
        __doc__, argv, what="requests / starts", quick=300, full=2000, clients=True
    )


if __name__ == "__main__":
    print(run(parse()))
