"""Record one history per workflow on the REAL Temporal dev server for the replay test.

Run by hand after a change to workflow code (`.venv/bin/python -m
tests.workflows.record_histories [path ...]`, e.g. `arrears`; no name: every path) and
commit tests/workflows/histories/*.json. Histories
are replayed under the workflow id they ran with (task ids, hence Update handling, derive
from it), kept in histories/workflow_ids.json since the history JSON does not carry it.

Each workflow goes through a representative path: its task completion Updates, a signal
where it has one, timers that fire and timers that are cancelled, continue-as-new for the
cyclic ones. Nothing here waits for months: the shipped policy is copied with short
durations for the few timers that must fire, and customers' strategy parameters shorten the
rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowContinuedAsNewError, WorkflowHandle

import worker as worker_module
from activities import policy_store
from config import ROOT, Settings
from services import registration_reviews as reviews
from services.relay import Relay
from store import db
from store.db import make_engine, session_factory
from store.models import Assignment, Customer, Task
from tests import servers
from workflows.arrears_payloads import ProtectionChanged
from workflows.inputs import (
    ArrearsInput,
    CallbackInput,
    ClosureInput,
    Hazard,
    HazardInput,
    OutageInput,
    ScheduledInput,
    ServiceRequestInput,
    VisitInput,
)
from workflows.outcomes import ProcessState
from workflows.segmentation_payloads import SegmentationRunInput
from workflows.signals import CaseSettledSignal, LeaveSignal, PaymentSignal, RectificationSignal
from workflows.task_payloads import TaskCompletion, TaskCompletionResult

HISTORIES = Path(__file__).parent / "histories"
IDS = HISTORIES / "workflow_ids.json"  # history name -> the recorded run's workflow id
QUEUE = "record"
log = logging.getLogger("record_histories")


def fast_policies(target: Path) -> Path:
    """The shipped policy with the outage call-back delay cut to seconds (the only timer of
    the recorded paths that no customer parameter shortens)."""
    shutil.copytree(ROOT / "policies", target)
    processes = target / "processes.yaml"
    text = processes.read_text()
    assert "    after: P1D\n" in text
    text = text.replace("    after: P1D\n", "    after: PT2S\n", 1)
    # the arrears reminders' waits too (the ladder's plan is typed from the policy alone)
    for reminder in ("sms", "wechat", "phone"):
        old = f"channel: {reminder}, wait: P3D}}"
        assert old in text
        text = text.replace(old, f"channel: {reminder}, wait: PT1S}}")
    processes.write_text(text)
    return target


class Recorder:
    """Drives workflows on one client / store and writes their histories."""

    def __init__(
        self,
        client: Client,
        sessions: sessionmaker[Session],
        version: str,
        control_queue: str = QUEUE,
    ) -> None:
        self.control_queue = control_queue
        self.client = client
        self.sessions = sessions
        self.version = version

    def customer(self, cid: str, *, category: str = "residential", abc: str = "C",
                 tags: tuple[str, ...] = (), actions: dict[str, Any] | None = None,
                 processes: dict[str, Any] | None = None, **fields: Any) -> None:  # fmt: skip
        with self.sessions.begin() as s:
            contacts = {"phone": "+86 138 0000 0000", "wechat": "wx_" + cid}
            s.add(Customer(customer_id=cid, category=category, contacts=contacts, **fields))
            s.flush()
            s.add(Assignment(customer_id=cid, policy_version=self.version, category=category,
                             abc_class=abc, tags=list(tags), points_tier="standard",
                             actions=actions or {}, processes=processes or {}))  # fmt: skip

    async def start(self, workflow: str, arg: Any, wid: str) -> WorkflowHandle[Any, Any]:
        return await self.client.start_workflow(workflow, arg, id=wid, task_queue=QUEUE)

    async def until(self, check: Callable[[], Any], timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            await asyncio.sleep(0.1)
        raise TimeoutError("condition never held")

    def open_task(self, wid: str, kind: str, skip: tuple[str, ...] = ()) -> Task | None:
        with self.sessions() as s:
            rows = s.scalars(select(Task).where(Task.workflow_id == wid, Task.status == "open"))
            return next((t for t in rows if t.kind == kind and t.task_id not in skip), None)

    async def complete(self, handle: WorkflowHandle[Any, Any], wid: str, kind: str,
                       skip: tuple[str, ...] = (), **result: Any) -> str:  # fmt: skip
        task: Task = await self.until(lambda: self.open_task(wid, kind, skip))
        await handle.execute_update(
            "complete_task",
            TaskCompletion(task.task_id, result, "user.recorder"),
            id=task.task_id,
            result_type=TaskCompletionResult,
        )
        return task.task_id

    async def save(self, name: str, handle: WorkflowHandle[Any, Any]) -> None:
        """Write the history of the handle's run (the first run of a cyclic workflow)."""
        run = self.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
        with contextlib.suppress(WorkflowContinuedAsNewError):
            await asyncio.wait_for(run.result(follow_runs=False), 60)
        history = await run.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json())
        # the JSON has no workflow id, yet replay needs the real one: task ids derive from it
        ids = json.loads(IDS.read_text()) if IDS.exists() else {}
        IDS.write_text(json.dumps({**ids, name: handle.id}, indent=2, sort_keys=True) + "\n")
        log.info("%s: %d events", name, len(history.events))

    # ---- the paths ---------------------------------------------------------------------

    async def callback(self) -> None:
        # unreachable, retry timer, contact updated, the period, then the leave signal
        self.customer(
            "CB1",
            processes={
                "callback": {
                    "period": "PT1H",
                    "jitter": "PT0S",
                    "retry_after": "PT1S",
                    "first_cycle_spread": "PT0S",
                }
            },
        )
        h = await self.start("callback", CallbackInput("CB1"), "callback:CB1")
        first = await self.complete(h, "callback:CB1", "callback_call", outcome="unreachable")
        contacts = {"phone": "+86 139 1111 2222"}
        await self.complete(h, "callback:CB1", "callback_call", (first,),
                            outcome="contact_updated", contacts=contacts)  # fmt: skip
        await self.until(lambda: self.open_task("callback:CB1", "callback_call") is None)
        await asyncio.sleep(1)
        await h.signal("leave", LeaveSignal("segment left"))
        await self.save("callback", h)
        # one whole cycle ending in continue-as-new
        self.customer(
            "CB2",
            processes={
                "callback": {"period": "PT2S", "jitter": "PT0S", "first_cycle_spread": "PT0S"}
            },
        )
        h = await self.start("callback", CallbackInput("CB2"), "callback:CB2")
        await self.complete(h, "callback:CB2", "callback_call", outcome="verified")
        await self.save("callback.continued", h)
        await self.client.get_workflow_handle("callback:CB2").signal("leave", LeaveSignal())

    async def arrears(self) -> None:
        # reminders (1 s waits), collection, a conversion (checked at the moment), the notice,
        # a dispute holding the planned cut-off and its release (re-planned), then payment
        self.customer("A1")
        wid = "arrears:A1:B1"
        h = await self.start("arrears", ArrearsInput("A1", "B1", 420.0), wid)
        await self.complete(h, wid, "collection", outcome="promised")
        await self.complete(h, wid, "prepayment_conversion", outcome="converted")
        await self.stage(h, "cutoff_planned")
        await h.signal("protection_changed", ProtectionChanged("dispute", True, "D1"))
        await self.stage(h, "paused")
        await h.signal("protection_changed", ProtectionChanged("dispute", False, "D1"))
        await self.stage(h, "cutoff_planned")
        await h.signal("payment", PaymentSignal(100.0, remaining=320.0))
        await h.signal("payment", PaymentSignal(320.0, settled=True))
        await self.save("arrears", h)

    async def stage(self, handle: WorkflowHandle[Any, Any], stage: str) -> None:
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            state = await handle.query("state", result_type=ProcessState)
            if state.stage == stage:
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"stage {stage} never reached")

    async def hazard(self) -> None:
        # three rounds: reported, partly fixed; reported, not fixed (authority report);
        # reported, all fixed
        self.customer("H1")
        wid = "hazard:H1:I1"
        hazards = [Hazard("h1", "backup power", "serious"), Hazard("h2", "insulation", "general")]
        h = await self.start("hazard", HazardInput("H1", "I1", hazards), wid)
        done: tuple[str, ...] = ()
        for results in (
            [{"hazard_id": "h2", "fixed": True}, {"hazard_id": "h1", "fixed": False}],
            [{"hazard_id": "h1", "fixed": False}],
            [{"hazard_id": "h1", "fixed": True}],
        ):
            await h.signal("rectification_reported", RectificationSignal())
            done += (await self.complete(h, wid, "reinspection", done, results=results),)
        await self.save("hazard", h)

    async def closure(self) -> None:
        self.customer("K1", tags=("safety_high_risk",), arrears_amount=120.0,
                      processes={"closure": {"inspection_required": True}})  # fmt: skip
        wid = "closure:K1"
        h = await self.start("closure", ClosureInput("K1", "REQ1"), wid)
        await self.complete(h, wid, "closure_inspection", outcome="theft_found",
                            evidence="bypass wire", back_billing=800.0)  # fmt: skip
        await self.until(lambda: self.open_task(wid, "theft_case"))
        await h.signal("case_settled", CaseSettledSignal(amount_paid=800.0))
        await self.complete(h, wid, "final_meter_reading", outcome="read", reading_kwh=12345.0)
        await self.complete(h, wid, "closure_settlement", outcome="settled")
        await self.save("closure", h)

    async def visit(self) -> None:
        visit = {"visit_every": "PT1H", "jitter": "PT0S"}
        self.customer("V1", abc="A", actions={"visit_every": "P1M"},
                      processes={"key_account_visit": visit})  # fmt: skip
        h = await self.start("visit", VisitInput("V1"), "visit:V1")
        await self.complete(h, "visit:V1", "key_account_visit", outcome="visited",
                            findings="transformer ok")  # fmt: skip
        await asyncio.sleep(1)
        await h.signal("leave", LeaveSignal("segment left"))
        await self.save("visit", h)

    async def service_request(self) -> None:
        # a 4-second SLA: the warning and breach timers fire, then the escalated task closes
        self.customer("S1", abc="A", processes={"service_request": {"response_sla_hours": 0.001}})
        wid = "service_request:S1:R1"
        h = await self.start("service_request", ServiceRequestInput("S1", "R1", "billing"), wid)
        await self.until(lambda: (t := self.open_task(wid, "service_request")) and
                         t.queue == "supervisor")  # fmt: skip
        await self.complete(h, wid, "service_request", outcome="resolved")
        await self.save("service_request", h)

    async def outage(self) -> None:
        outage = {"channels": ["sms", "wechat"], "lead": "PT4S", "pre_negotiation_required": True,
                  "satisfaction_callback_required": True}  # fmt: skip
        self.customer("O1", category="important", tags=("outage_sensitive",), feeder_id="F1",
                      outage_minutes_12m=300.0, processes={"outage_notice": outage})  # fmt: skip
        self.customer("O2", feeder_id="F1", processes={"outage_notice": {"lead": "PT4S"}})
        now = datetime.now(UTC)
        starts, ends = now + timedelta(seconds=8), now + timedelta(seconds=9)
        wid = "outage:F1:OUT1"
        h = await self.start(
            "outage", OutageInput("F1", "OUT1", starts.isoformat(), ends.isoformat()), wid
        )
        await self.complete(h, wid, "outage_pre_negotiation", outcome="agreed")
        await self.complete(h, wid, "outage_satisfaction_callback", outcome="satisfied")
        await self.save("outage", h)

    async def scheduled(self) -> None:
        """The four scheduled-task processes: one cycle each, then `leave`."""
        fast = {"period": "PT1H", "jitter": "PT0S"}
        results: dict[str, dict[str, Any]] = {
            "key_account_meeting": {"outcome": "attended"},
            "record_verification": {"outcome": "corrected", "contacts": {"payer": "Zhao"}},
            "special_inspection": {"outcome": "hazards_found", "backup_power_compliant": False},
            "electrician_training": {"outcome": "drill_held", "participants": 3},
        }
        for i, (name, result) in enumerate(results.items()):
            cid = f"SC{i}"
            self.customer(cid, category="important", abc="A", processes={name: fast})
            wid = f"{name}:{cid}"
            h = await self.start(name, ScheduledInput(cid), wid)
            await self.complete(h, wid, name, **result)
            await asyncio.sleep(1)
            await h.signal("leave", LeaveSignal("segment left"))
            await self.save(name, h)

    async def registration_review(self) -> None:
        # the certificate ends inside the review window: the task opens at once, is renewed
        # (continue-as-new); the next run is decided through the API
        self.customer("RR1")
        end = (datetime.now(UTC) + timedelta(days=2)).date()
        reviews.register(self.sessions, "RR1", "REG-RR1", "life_support", "CERT-1",
                         "Dr. Li", date(2020, 1, 1), end, "recorder")  # fmt: skip
        wid = "registration:REG-RR1"
        # the relay applies the queued start (the same input the recorder used to pass)
        await Relay(self.sessions, self.client, QUEUE).run(until_idle=True)
        # the first run (a renewal continues-as-new): its history is the one recorded
        first = await self.client.get_workflow_handle(wid).describe()
        h = self.client.get_workflow_handle(wid, run_id=first.run_id)
        renewed = (end + timedelta(days=365)).isoformat()
        await self.complete(h, wid, "registration_review", outcome="renewed", valid_to=renewed)
        await self.save("registration_review", h)
        reviews.review(self.sessions, "REG-RR1", "ended", None, "recorder")
        await Relay(self.sessions, self.client, QUEUE).run(until_idle=True)

    async def segmentation_run(self) -> None:
        # keyset batches of 2, two batches per workflow run: the first run continues-as-new
        h = await self.client.start_workflow(
            "segmentation_run",
            SegmentationRunInput("R1", "user.recorder", 2, 2, batches_per_run=2),
            id="segmentation:R1",
            task_queue=self.control_queue,
        )
        await self.save("segmentation_run", h)


async def record(address: str, var: Path, only: list[str]) -> None:
    settings = Settings(var_dir=var, policies_dir=fast_policies(var / "policies"),
                        demo_customers=0, temporal_address=address, task_queue=QUEUE)  # fmt: skip
    db.upgrade(settings.store_url)
    sessions = session_factory(make_engine(settings.store_url))
    with sessions.begin() as s:
        version = policy_store.activate_directory(s, settings.policies_dir, "recorder").version
    client = await Client.connect(address)
    HISTORIES.mkdir(exist_ok=True)
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with worker_module.build_worker(client, settings, executor):
            r = Recorder(client, sessions, version, settings.control_queue)
            paths = (r.callback, r.arrears, r.hazard, r.closure, r.visit,
                     r.service_request, r.outage, r.scheduled, r.registration_review,
                     r.segmentation_run)  # fmt: skip
            for path in paths:
                # `record_histories scheduled visit` re-records only those paths
                if not only or path.__name__ in only:
                    await path()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp) / "var"
        var.mkdir()
        with servers.temporal_dev_server(Path(tmp) / "temporal") as address:
            asyncio.run(record(address, var, sys.argv[1:]))


if __name__ == "__main__":
    main()
