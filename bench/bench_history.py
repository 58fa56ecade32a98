"""History size (issue 7, #5): events per workflow run over ten simulated years on the
time-skipping test server, with the real worker and activities on a SQLite store.

    .venv/bin/python bench/bench_history.py [--quick] [--years 10]

Simulated: a call-back customer (quarterly, continue-as-new per cycle) and a key account with
monthly visits (continue-as-new per cycle); every task is completed as soon as it appears
(call-back `verified`, visit `visited`). Event-driven processes run once each to their end:
a closure (final reading, settlement) and an arrears ladder (collection promised, conversion
refused, notice, cut-off, payment after 60 days, reconnection). The driver skips time in
steps of 5 days and completes open tasks in between. Baseline: Temporal's own limits (a
history is warned about at 10,240 events and terminated at 51,200).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import stack
from sqlalchemy import select
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

import worker
from config import Settings
from store import db
from store.models import Assignment, Customer, Task
from workflows.attributes import SEARCH_ATTRIBUTES
from workflows.inputs import ArrearsInput, CallbackInput, ClosureInput, VisitInput
from workflows.signals import PaymentSignal
from workflows.task_kinds import schema_for
from workflows.task_payloads import TaskCompletion

TITLE = "History size"
TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
RESULTS = {
    "callback_call": {"outcome": "verified"},
    "key_account_visit": {"outcome": "visited"},
    "final_meter_reading": {"outcome": "read", "reading_kwh": 100.0},
    "closure_settlement": {"outcome": "settled"},
    "collection": {"outcome": "promised"},
    "prepayment_conversion": {"outcome": "refused"},
    "notice_delivery": {"outcome": "delivered"},
}


def result_for(kind: str) -> dict[str, Any]:
    return RESULTS.get(kind) or {"outcome": schema_for(kind)["properties"]["outcome"]["enum"][0]}


async def runs_of(client: Client, wid: str) -> list[int]:
    """Events per run of `wid`, oldest run first (following continue-as-new back)."""
    counts: list[int] = []
    run_id: str | None = None
    while True:
        events = [e async for e in client.get_workflow_handle(wid, run_id=run_id)
                  .fetch_history_events()]  # fmt: skip
        counts.append(len(events))
        previous = events[0].workflow_execution_started_event_attributes.continued_execution_run_id
        if not previous:
            return counts[::-1]
        run_id = previous


def seed(settings: Settings) -> str:
    from activities import policy_store

    engine = db.make_engine(settings.store_url)
    with db.session_factory(engine).begin() as s:
        version = policy_store.activate_directory(s, settings.policies_dir, "bench").version
        for cid, procs, actions in (
            ("H-CB", {"callback": {}}, {}),
            ("H-KA", {"key_account_visit": {"visit_every": "P1M"}}, {"visit_every": "P1M"}),
            ("H-CL", {}, {}),
            ("H-AR", {}, {}),
        ):
            s.add(Customer(customer_id=cid, category="residential",
                           contacts={"phone": "+86 138 0000 0009", "wechat": "wx"}))  # fmt: skip
            s.flush()
            s.add(Assignment(customer_id=cid, policy_version=version, category="residential",
                             abc_class="B", tags=[], points_tier="standard", actions=actions,
                             processes=procs))  # fmt: skip
    engine.dispose()
    return version


async def measure(settings: Settings, years: float) -> dict[str, Any]:
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEST_SERVER))
    try:
        client = env.client
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={
                    n: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for n in SEARCH_ATTRIBUTES
                },
            )
        )
        sessions = db.session_factory(db.make_engine(settings.store_url))
        q = settings.task_queue
        with ThreadPoolExecutor(max_workers=16) as executor:
            async with worker.build_worker(client, settings, executor):
                await client.start_workflow("callback", CallbackInput("H-CB"), id="callback:H-CB",
                                            task_queue=q)  # fmt: skip
                await client.start_workflow("visit", VisitInput("H-KA"), id="visit:H-KA",
                                            task_queue=q)  # fmt: skip
                closure = await client.start_workflow(
                    "closure", ClosureInput("H-CL"), id="closure:H-CL", task_queue=q
                )
                arrears = await client.start_workflow(
                    "arrears", ArrearsInput("H-AR", "B1", 100.0), id="arrears:H-AR:B1",
                    task_queue=q,
                )  # fmt: skip
                days, paid = 0.0, False
                while days < years * 365:
                    with sessions() as s:
                        open_tasks = list(s.scalars(select(Task).where(Task.status == "open")))
                    for task in open_tasks:
                        handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(
                            task.workflow_id
                        )
                        # a task closed meanwhile is refused: the next pass sees it closed
                        with contextlib.suppress(Exception):
                            await handle.execute_update(
                                "complete_task",
                                TaskCompletion(task.task_id, result_for(task.kind), "bench"),
                                id=task.task_id,
                            )
                    if days >= 60 and not paid:
                        await arrears.signal("payment", PaymentSignal(100.0, settled=True))
                        paid = True
                    await env.sleep(timedelta(days=5))
                    days += 5
                out = {
                    "callback": await runs_of(client, "callback:H-CB"),
                    "visit": await runs_of(client, "visit:H-KA"),
                    "closure": await runs_of(client, "closure:H-CL"),
                    "arrears": await runs_of(client, "arrears:H-AR:B1"),
                }
                for name, h in (("closure", closure), ("arrears", arrears)):
                    desc = await h.describe()
                    out[f"{name}_status"] = desc.status.name if desc.status else "?"
        return out
    finally:
        await env.shutdown()


def markdown(args: argparse.Namespace, res: dict[str, Any]) -> str:
    cmd = "bench/bench_history.py" + (" --quick" if args.quick else "")

    def row(name: str, runs: list[int], note: str) -> str:
        return (f"| {name} | {len(runs):,} | {max(runs):,} | {sum(runs) / len(runs):,.0f} | "
                f"{sum(runs):,} | {note} |")  # fmt: skip

    return "\n".join(
        [
            f"Command: `.venv/bin/python {cmd}` ({args.years:g} simulated years on the "
            "time-skipping server, real worker and activities, SQLite store).",
            "",
            stack.machine(),
            "",
            "| process | runs | max events per run | mean | total | note |",
            "|---|---|---|---|---|---|",
            row("call-back (quarterly, continue-as-new)", res["callback"], "every call verified"),
            row("key-account visit (monthly, continue-as-new)", res["visit"], "every visit done"),
            row("closure (event-driven, once)", res["closure"], res["closure_status"].lower()),
            row(
                "arrears ladder to cut-off and reconnection",
                res["arrears"],
                res["arrears_status"].lower(),
            ),
            "",
            "Baseline: Temporal warns at 10,240 events per history and terminates at 51,200; "
            "the forever processes stay bounded per run however many years they live.",
        ]
    )


def run(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory(prefix="segflow-bench-hist-") as tmp:
        settings = Settings(var_dir=Path(tmp) / "var", task_queue="bench-history",
                            demo_customers=0)  # fmt: skip
        db.upgrade(settings.store_url)
        seed(settings)
        res = asyncio.run(measure(settings, args.years))
    body = markdown(args, res)
    if not args.no_write:
        stack.write_section(TITLE, body)
    return body


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one simulated year")
    parser.add_argument("--years", type=float, default=None)
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args(argv)
    args.years = args.years or (1.0 if args.quick else 10.0)
    return args


if __name__ == "__main__":
    print(run(parse()))
