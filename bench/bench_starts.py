"""Workflow starts (issue 7, #3): `POST /v1/workflows/closure` through the API (uvicorn on
127.0.0.1) vs the raw Temporal client's `start_workflow` of the same workflow type with the
same kind of input, on the same dev server in the same run. Target: API starts/s >= 0.9 x raw.

    .venv/bin/python bench/bench_starts.py [--quick] [--n 1000] [--clients 20]

No worker polls the task queue, so only the start path is timed (the workflows stay pending).
The API path is what a CRM gets: auth, strict input validation, the customer looked up in the
store, the business-key start (the recorded input is read back only when the key already
runs, to tell a retry from a conflicting second start), and the audit row. Both paths run at
1 client (latency) and at `--clients` concurrent clients (throughput); the order alternates
API / raw.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

import httpx
import stack
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

import rules
from activities import customers as customer_store
from store import db
from workflows.inputs import ClosureInput

TITLE = "Workflow starts: API vs raw Temporal client"


def seed_customers(st: stack.Stack, n: int) -> None:
    """Customers S0..S{n-1} in the store (the API refuses starts for unknown customers)."""
    engine = db.make_engine(st.settings.store_url)
    with db.session_factory(engine).begin() as s:
        for i in range(n):
            customer_store.store_record(s, rules.validate_record({"customer_id": f"S{i}"}))
    engine.dispose()


async def measure(st: stack.Stack, n: int, clients: int) -> dict[str, Any]:
    client = await Client.connect(st.settings.temporal_address)
    queue = st.settings.task_queue
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=st.api_url, limits=limits, timeout=60) as http:
        crm = st.auth("crm")

        def api(offset: int) -> Any:
            async def call(i: int) -> int:
                body = {"customer_id": f"S{offset + i}"}
                r = await http.post("/v1/workflows/closure", json=body, headers=crm)
                return r.status_code

            return call

        def raw(offset: int) -> Any:
            async def call(i: int) -> int:
                await client.start_workflow(
                    "closure",
                    ClosureInput(f"R{offset + i}"),
                    id=f"closure:R{offset + i}",
                    task_queue=queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                )
                return 201

            return call

        await stack.hammer(api(0), 20, 1)  # warm-up (imports, connections)
        await stack.hammer(raw(0), 20, 1)
        seq = max(n // 5, 20)
        out["api1"] = await stack.hammer(api(100), seq, 1)
        out["raw1"] = await stack.hammer(raw(100), seq, 1)
        base = 100 + seq
        out["rawN"] = await stack.hammer(raw(base), n, clients)
        out["apiN"] = await stack.hammer(api(base), n, clients)
    return out


def markdown(args: argparse.Namespace, res: dict[str, Any]) -> str:
    cmd = "bench/bench_starts.py" + (" --quick" if args.quick else "")

    def rate(key: str) -> float:
        lat, wall, _ = res[key]
        return len(lat) / wall

    r1, rn = rate("api1") / rate("raw1"), rate("apiN") / rate("rawN")
    verdict = "met" if rn >= 0.9 else "NOT met"
    return "\n".join(
        [
            f"Command: `.venv/bin/python {cmd}` (n={args.n:,} starts per path at "
            f"{args.clients} clients, {max(args.n // 5, 20):,} at 1 client; no worker polling).",
            "",
            stack.machine(),
            "",
            "| path | clients | starts | p50 ms | p99 ms | starts/s |",
            "|---|---|---|---|---|---|",
            *(
                stack.latency_row(name, res[key][0], res[key][1]).replace(" | ", f" | {c} | ", 1)
                for name, key, c in (
                    ("baseline: raw `client.start_workflow`", "raw1", 1),
                    ("`POST /v1/workflows/closure`", "api1", 1),
                    ("baseline: raw `client.start_workflow`", "rawN", args.clients),
                    ("`POST /v1/workflows/closure`", "apiN", args.clients),
                )
            ),
            "",
            f"Ratio API / raw: **{rn:.2f} at {args.clients} clients** (target >= 0.9: {verdict}), "
            f"{r1:.2f} at 1 client. Status codes at {args.clients} clients: "
            f"API {res['apiN'][2]}, raw {res['rawN'][2]}.",
        ]
    )


def run(args: argparse.Namespace) -> str:
    with (
        tempfile.TemporaryDirectory(prefix="segflow-bench-starts-") as tmp,
        stack.local_stack(Path(tmp), worker=False, task_queue="bench-starts") as st,
    ):
        seed_customers(st, 100 + max(args.n // 5, 20) + args.n)
        res = asyncio.run(measure(st, args.n, args.clients))
    body = markdown(args, res)
    if not args.no_write:
        stack.write_section(TITLE, body)
    return body


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    return stack.sized_args(
        __doc__, argv, what="starts per path", quick=200, full=1000, clients=True
    )


if __name__ == "__main__":
    print(run(parse()))
