"""SIGKILL the worker process in the middle of an arrears ladder, three times, and restart it:
the ladder goes on to the cut-off and the reconnection; the outbox holds every notice and
order exactly once and none is skipped; every task exists once and ends closed."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from config import Settings
from store.models import Assignment, AuditEntry, Customer, OutboxMessage, Task
from tests.faults.conftest import Children, activate, fast_arrears_bundle, until
from workflows.inputs import ArrearsInput
from workflows.outcomes import ProcessResult
from workflows.signals import PaymentSignal
from workflows.task_payloads import TaskCompletion

pytestmark = [pytest.mark.faults, pytest.mark.e2e]
CID, WID = "K1", "arrears:K1:B1"

# (step, channel/system) the ladder must have produced, each exactly once
EXPECTED_OUTBOX = {
    ("sms_reminder", "sms"), ("wechat_reminder", "wechat"), ("phone_reminder", "phone"),
    ("notice0", "sms"), ("notice0", "wechat"), ("notice0", "letter"),
    ("renotice0", "phone"), ("renotice0", "sms"),
    ("disconnect", "meter_head_end"), ("reconnect", "meter_head_end"),
}  # fmt: skip


def outbox(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    with sessions() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.workflow_id == WID))
        return [(m.payload["step"], m.adapter) for m in rows]


def tasks(sessions: sessionmaker[Session]) -> list[Task]:
    with sessions() as s:
        return list(s.scalars(select(Task).where(Task.workflow_id == WID)))


def open_task(sessions: sessionmaker[Session], kind: str) -> Task | None:
    return next((t for t in tasks(sessions) if t.kind == kind and t.status == "open"), None)


async def complete(handle: WorkflowHandle[object, object], task: Task, outcome: str) -> None:
    """The Update the API sends (task id as update id); retried until a worker takes it."""

    async def attempt() -> bool:
        try:
            await handle.execute_update(
                "complete_task", TaskCompletion(task.task_id, {"outcome": outcome}, "insp.wang"),
                id=task.task_id,
            )  # fmt: skip
            return True
        except RPCError:
            return False

    for _ in range(60):
        if await attempt():
            return
    raise AssertionError(f"update of {task.task_id} never accepted")


async def test_sigkill_worker_mid_ladder(
    fault_settings: Settings, sessions: sessionmaker[Session], children: Children, tmp_path: Path
) -> None:
    bundle = fast_arrears_bundle()
    activate(sessions, bundle)
    with sessions.begin() as s:
        s.add(Customer(customer_id=CID, category="residential", tariff="residential",
                       contacts={"phone": "+86 138 0000 0001", "wechat": "wx_k1"}))  # fmt: skip
        s.flush()
        s.add(Assignment(customer_id=CID, policy_version=bundle.version, category="residential",
                         abc_class="C", tags=[], points_tier="standard", actions={},
                         processes={}))  # fmt: skip
    client = await Client.connect(fault_settings.temporal_address)
    worker = children.worker()
    handle = await client.start_workflow(
        "arrears", ArrearsInput(CID, "B1", 320.0), id=WID,
        task_queue=fault_settings.task_queue, result_type=ProcessResult,
    )  # fmt: skip

    # 1: killed during the reminders; their 2 s waits run out while no worker is there
    await until(lambda: ("sms_reminder", "sms") in outbox(sessions), 60, "the SMS reminder")
    Children.kill(worker)
    await asyncio.sleep(3)
    worker = children.worker()

    # 2: killed while the collection task waits in the inbox; completed while it is down
    collection = await until(lambda: open_task(sessions, "collection"), 90, "collection task")
    Children.kill(worker)
    worker = children.worker()
    await complete(handle, collection, "promised")
    conversion = await until(
        lambda: open_task(sessions, "prepayment_conversion"), 90, "conversion task"
    )
    await complete(handle, conversion, "refused")

    # 3: killed between the notice and the cut-off
    await until(lambda: ("notice0", "sms") in outbox(sessions), 90, "the disconnection notice")
    Children.kill(worker)
    worker = children.worker()
    await until(lambda: ("disconnect", "meter_head_end") in outbox(sessions), 90, "the cut-off")
    await handle.signal("payment", PaymentSignal(320.0, settled=True))
    reconnection = await until(lambda: open_task(sessions, "reconnection"), 90, "reconnection")
    await complete(handle, reconnection, "reconnected")
    result = await handle.result()
    assert result.outcome == "reconnected"

    sent = outbox(sessions)
    assert Counter(sent) == Counter(EXPECTED_OUTBOX), sent  # nothing twice, nothing skipped
    all_tasks = tasks(sessions)
    kinds = Counter(t.kind for t in all_tasks)
    assert kinds["collection"] == kinds["prepayment_conversion"] == kinds["reconnection"] == 1
    assert kinds["disconnection"] == 1, kinds
    assert len({t.task_id for t in all_tasks}) == len(all_tasks)
    assert not [t.task_id for t in all_tasks if t.status in ("open", "claimed")]
    with sessions() as s:
        # protection checks are one per step and moment: their id is what must not repeat
        steps = Counter(
            e.action + (f":{e.detail['check_id']}" if e.action == "protection.check" else "")
            for e in s.scalars(select(AuditEntry).where(AuditEntry.target == f"workflow:{WID}"))
        )
    repeated = {k: v for k, v in steps.items() if v > 1}
    assert not repeated, repeated
    for step in ("sms_reminder", "wechat_reminder", "phone_reminder", "onsite_collection",
                 "prepayment_conversion", "disconnected", "ended"):  # fmt: skip
        assert steps[f"workflow.{step}"] == 1, (step, steps)
