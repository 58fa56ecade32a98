"""API benchmark (issue 7, #2): `PUT /v1/customers/{id}` p50 / p99 and throughput with 20
concurrent clients over 10,000 requests, against the app served by uvicorn on 127.0.0.1 with
the real dev server and the worker running. Baseline in the same run: `GET /healthz` under the
same load (same clients, same connection pool), so the figure shows what a customer upsert
costs on top of HTTP + the event loop.

    .venv/bin/python bench/bench_api.py [--quick] [--n 10000] [--clients 20]

Each PUT creates a new customer from the deterministic demo population (activities.population),
so the store grows from 0 to N during the run, the ABC rank is two counts over it, and the
customers whose strategy asks for a call-back start their workflow inside the request.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

import httpx
import stack

from activities.population import demo_records

TITLE = "API: customer upsert"


async def measure(st: stack.Stack, n: int, clients: int) -> dict[str, Any]:
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

        await stack.hammer(health, 200, clients)  # warm-up: connections, imports
        base = await stack.hammer(health, n, clients)
        puts = await stack.hammer(put, n, clients)
    stored = stack.store_count(st.settings, "SELECT count(*) FROM customers")
    callbacks = stack.store_count(
        st.settings, "SELECT count(*) FROM assignments WHERE processes LIKE '%callback%'"
    )
    return {"base": base, "put": puts, "stored": stored, "callbacks": callbacks}


def markdown(args: argparse.Namespace, res: dict[str, Any]) -> str:
    b_lat, b_wall, b_status = res["base"]
    p_lat, p_wall, p_status = res["put"]
    cmd = "bench/bench_api.py" + (" --quick" if args.quick else "")
    ratio = stack.percentile(p_lat, 50) / max(stack.percentile(b_lat, 50), 1e-9)
    return "\n".join(
        [
            f"Command: `.venv/bin/python {cmd}` (n={args.n:,}, {args.clients} clients; "
            "uvicorn on 127.0.0.1, real dev server and worker running, SQLite store).",
            "",
            stack.machine(),
            "",
            "| request | requests | p50 ms | p99 ms | req/s |",
            "|---|---|---|---|---|",
            stack.latency_row("baseline: `GET /healthz`", b_lat, b_wall),
            stack.latency_row("`PUT /v1/customers/{id}` (new customer)", p_lat, p_wall),
            "",
            f"Status codes: healthz {b_status}, PUT {p_status}. Stored afterwards: "
            f"{res['stored']:,} customers ({res['callbacks']:,} of them started a call-back "
            f"workflow inside their PUT). PUT p50 is {ratio:.1f}x the healthz p50; the load "
            "generator runs on the same 2 CPUs as the server.",
        ]
    )


def run(args: argparse.Namespace) -> str:
    with (
        tempfile.TemporaryDirectory(prefix="segflow-bench-api-") as tmp,
        stack.local_stack(Path(tmp)) as st,
    ):
        res = asyncio.run(measure(st, args.n, args.clients))
    body = markdown(args, res)
    if not args.no_write:
        stack.write_section(TITLE, body)
    return body


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    return stack.sized_args(
        __doc__, argv, what="requests per endpoint", quick=1000, full=10_000, clients=True
    )


if __name__ == "__main__":
    print(run(parse()))
