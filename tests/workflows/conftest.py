"""Fixtures of the workflow tests: a store with the shipped policy, a worker with the REAL
activities on the time-skipping server, and helpers to drive a workflow through time."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import worker as worker_module
from activities import policy_store
from activities.adapters import AdapterActivities
from activities.inbox import InboxActivities
from activities.process_activities import ProcessActivities
from config import ROOT
from store.db import make_engine, session_factory
from store.models import Assignment, AuditEntry, Customer, OutboxMessage, Task
from workflows.payloads import SEARCH_ATTRIBUTES, TaskCompletion, TaskCompletionResult
from workflows.process_payloads import ProcessResult, ProcessState

DAY = 86400.0
_registered = False


async def register_search_attributes(env: WorkflowEnvironment) -> None:
    """CustomerId / ProcessKind / Stage / PolicyVersion as Keyword (once per server)."""
    global _registered
    if _registered:
        return
    try:
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={
                    n: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for n in SEARCH_ATTRIBUTES
                },
            )
        )
    except RPCError as err:  # registered by an earlier test module
        if "already" not in str(err).lower():
            raise
    _registered = True


@dataclass
class Rig:
    """What a workflow test needs: env, store sessions, policy version, task queue."""

    env: WorkflowEnvironment
    sessions: sessionmaker[Session]
    version: str
    queue: str

    def customer(self, cid: str, *, category: str = "residential", abc: str = "C",
                 tags: tuple[str, ...] = (), actions: dict[str, Any] | None = None,
                 processes: dict[str, Any] | None = None, contacts: dict[str, Any] | None = None,
                 **fields: Any) -> None:  # fmt: skip
        with self.sessions.begin() as s:
            s.add(Customer(customer_id=cid, category=category,
                           contacts={"phone": "+86 138 0000 0000", "wechat": "wx_" + cid}
                           if contacts is None else contacts, **fields))  # fmt: skip
            s.flush()
            s.add(Assignment(customer_id=cid, policy_version=self.version, category=category,
                             abc_class=abc, tags=list(tags), points_tier="standard",
                             actions=actions or {}, processes=processes or {}))  # fmt: skip

    def tasks(self, wid: str, status: str | None = None) -> list[Task]:
        with self.sessions() as s:
            q = select(Task).where(Task.workflow_id == wid).order_by(Task.created_at)
            rows = list(s.scalars(q))
        return [t for t in rows if status is None or t.status == status]

    def open_task(self, wid: str, kind: str) -> Task | None:
        return next((t for t in self.tasks(wid, "open") if t.kind == kind), None)

    def outbox(self, wid: str) -> list[OutboxMessage]:
        with self.sessions() as s:
            return list(s.scalars(select(OutboxMessage).where(OutboxMessage.workflow_id == wid)
                                  .order_by(OutboxMessage.id)))  # fmt: skip

    def audit(self, wid: str) -> list[AuditEntry]:
        with self.sessions() as s:
            return list(s.scalars(select(AuditEntry).where(AuditEntry.target == f"workflow:{wid}")
                                  .order_by(AuditEntry.seq)))  # fmt: skip

    def steps(self, wid: str) -> dict[str, dict[str, Any]]:
        return {e.action.removeprefix("workflow."): e.detail for e in self.audit(wid)}

    async def start(self, workflow: str, arg: Any, wid: str) -> WorkflowHandle[Any, Any]:
        return await self.env.client.start_workflow(
            workflow, arg, id=wid, task_queue=self.queue, result_type=ProcessResult
        )

    async def state(self, handle: WorkflowHandle[Any, Any]) -> ProcessState:
        return await handle.query("state", result_type=ProcessState)  # type: ignore[no-any-return]

    async def drive(self, check: Callable[[], Any], step: float = DAY,
                    limit: float = 120 * DAY) -> Any:  # fmt: skip
        """Poll `check` in real time briefly, skip `step` of workflow time, repeat."""
        skipped = 0.0
        while True:
            for _ in range(15):
                value = check()
                if value:
                    return value
                await asyncio.sleep(0.02)
            if skipped >= limit:
                raise AssertionError("condition never held")
            await self.env.sleep(step)
            skipped += step

    async def task(self, wid: str, kind: str, step: float = DAY) -> Task:
        found: Task = await self.drive(lambda: self.open_task(wid, kind), step)
        return found

    async def complete(self, handle: WorkflowHandle[Any, Any], task: Task,
                       actor: str = "user.test", **result: Any) -> TaskCompletionResult:  # fmt: skip
        return await handle.execute_update(  # type: ignore[no-any-return]
            "complete_task", TaskCompletion(task.task_id, result, actor), id=task.task_id,
            result_type=TaskCompletionResult,
        )


@pytest.fixture
async def rig(time_env: WorkflowEnvironment, store_url: str) -> AsyncIterator[Rig]:
    """Store with the shipped policy active; a worker with the real activities."""
    await register_search_attributes(time_env)
    sessions = session_factory(make_engine(store_url))
    with sessions.begin() as s:
        version = policy_store.activate_directory(s, ROOT / "policies", "test").version
    queue = f"wf-{uuid.uuid4().hex[:8]}"
    activities = (InboxActivities(sessions).all() + AdapterActivities(sessions).all()
                  + ProcessActivities(sessions, time_env.client).all())  # fmt: skip
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with Worker(time_env.client, task_queue=queue, workflows=worker_module.WORKFLOWS,
                          activities=activities, activity_executor=executor,
                          workflow_runner=worker_module.workflow_runner()):  # fmt: skip
            yield Rig(time_env, sessions, version, queue)
