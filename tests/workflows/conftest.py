"""Fixtures of the workflow tests: a store with the shipped policy, a worker with the REAL
activities on the time-skipping server, and helpers to drive a workflow through time.

Time moves event by event, not in fixed steps: `Rig.settle` waits until every workflow the
test started has no workflow task or activity in flight (read from its history), and
`Rig.drive` then jumps the clock straight to the earliest pending timer of those workflows
until the test's condition holds. A test so checks its condition at every point where the
store can change, and months of workflow time cost a few dozen round trips.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType, IndexedValueType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import worker as worker_module
from activities import policy_store
from activities.adapters import AdapterActivities
from activities.callback_steps import CallbackActivities
from activities.inbox import InboxActivities
from activities.process_activities import ProcessActivities
from activities.protections import ProtectionActivities
from config import ROOT
from store import db
from store.db import make_engine, session_factory
from store.models import Assignment, AuditEntry, Customer, OutboxMessage, Task
from workflows.attributes import SEARCH_ATTRIBUTES
from workflows.outcomes import ProcessResult, ProcessState
from workflows.task_payloads import TaskCompletion, TaskCompletionResult

DAY = 86400.0
SETTLE_TIMEOUT = 30.0  # real seconds a workflow may stay busy before the test fails

_ACTIVITY_CLOSED = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes",
}
_TIMER_CLOSED = {
    EventType.EVENT_TYPE_TIMER_FIRED: "timer_fired_event_attributes",
    EventType.EVENT_TYPE_TIMER_CANCELED: "timer_canceled_event_attributes",
}
_WFT_CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}


@dataclass
class Pending:
    """What one workflow run is waiting on, from its history."""

    busy: str = ""  # why the run is not quiescent ("" when it is)
    timers: list[datetime] = field(default_factory=list)  # fire times of pending timers
    failure: str = ""  # the message of a failed last workflow task


def pending_of(events: list[HistoryEvent]) -> Pending:
    """Workflow task, activities and timers still open at the end of `events`."""
    activities: dict[int, str] = {}
    timers: dict[int, datetime] = {}
    wft_open = False
    failure = ""
    for e in events:
        t = e.event_type
        if t == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            wft_open, failure = True, ""
        elif t in _WFT_CLOSED:
            wft_open = False
            if t == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                failure = e.workflow_task_failed_event_attributes.failure.message or "failed"
        elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            activities[e.event_id] = e.activity_task_scheduled_event_attributes.activity_type.name
        elif t in _ACTIVITY_CLOSED:
            activities.pop(getattr(e, _ACTIVITY_CLOSED[t]).scheduled_event_id, None)
        elif t == EventType.EVENT_TYPE_TIMER_STARTED:
            a = e.timer_started_event_attributes
            fire = e.event_time.ToDatetime(tzinfo=UTC) + a.start_to_fire_timeout.ToTimedelta()
            timers[e.event_id] = fire
        elif t in _TIMER_CLOSED:
            timers.pop(getattr(e, _TIMER_CLOSED[t]).started_event_id, None)
    busy = "workflow task" if wft_open else ", ".join(sorted(set(activities.values())))
    return Pending(busy, sorted(timers.values()), failure)


_registered: set[int] = set()


async def register_search_attributes(client: Client) -> None:
    """CustomerId / ProcessKind / Stage / PolicyVersion as Keyword (once per server)."""
    if id(client) in _registered:
        return
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={
                    n: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for n in SEARCH_ATTRIBUTES
                },
            )
        )
    except RPCError as err:  # registered by an earlier run on the same server
        if "already" not in str(err).lower():
            raise
    _registered.add(id(client))


@dataclass
class Rig:
    """What a workflow test needs: env, store sessions, policy version, task queue, and the
    workflows this test started (the ones `settle` and `drive` follow)."""

    env: WorkflowEnvironment
    sessions: sessionmaker[Session]
    version: str
    queue: str
    started: list[str] = field(default_factory=list)

    def customer(
        self,
        cid: str,
        *,
        category: str = "residential",
        abc: str = "C",
        tags: tuple[str, ...] = (),
        actions: dict[str, Any] | None = None,
        processes: dict[str, Any] | None = None,
        contacts: dict[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        if contacts is None:
            contacts = {"phone": "+86 138 0000 0000", "wechat": "wx_" + cid}
        with self.sessions.begin() as s:
            s.add(Customer(customer_id=cid, category=category, contacts=contacts, **fields))
            s.flush()
            s.add(
                Assignment(
                    customer_id=cid,
                    policy_version=self.version,
                    category=category,
                    abc_class=abc,
                    tags=list(tags),
                    points_tier="standard",
                    actions=actions or {},
                    processes=processes or {},
                )
            )

    def tasks(self, wid: str, status: str | None = None) -> list[Task]:
        with self.sessions() as s:
            q = select(Task).where(Task.workflow_id == wid).order_by(Task.created_at)
            rows = list(s.scalars(q))
        return [t for t in rows if status is None or t.status == status]

    def open_task(self, wid: str, kind: str) -> Task | None:
        return next((t for t in self.tasks(wid, "open") if t.kind == kind), None)

    def outbox(self, wid: str) -> list[OutboxMessage]:
        with self.sessions() as s:
            q = select(OutboxMessage).where(OutboxMessage.workflow_id == wid)
            return list(s.scalars(q.order_by(OutboxMessage.id)))

    def audit(self, wid: str) -> list[AuditEntry]:
        with self.sessions() as s:
            q = select(AuditEntry).where(AuditEntry.target == f"workflow:{wid}")
            return list(s.scalars(q.order_by(AuditEntry.seq)))

    def steps(self, wid: str) -> dict[str, dict[str, Any]]:
        return {e.action.removeprefix("workflow."): e.detail for e in self.audit(wid)}

    async def start(
        self, workflow: str, arg: Any, wid: str, result_type: type = ProcessResult
    ) -> WorkflowHandle[Any, Any]:
        self.started.append(wid)
        return await self.env.client.start_workflow(
            workflow, arg, id=wid, task_queue=self.queue, result_type=result_type
        )

    async def state(self, handle: WorkflowHandle[Any, Any]) -> ProcessState:
        return await handle.query("state", result_type=ProcessState)  # type: ignore[no-any-return]

    async def pending(self, wid: str) -> Pending:
        """What the latest run of `wid` waits on."""
        handle = self.env.client.get_workflow_handle(wid)
        return pending_of([e async for e in handle.fetch_history_events()])

    async def settle(self) -> datetime | None:
        """Wait until the test's workflows are idle (store writes done); return the earliest
        pending timer's fire time (None when no timer is pending)."""
        began = time.monotonic()
        delay = 0.005
        while True:
            found = {wid: await self.pending(wid) for wid in self.started}
            busy = {wid: p.busy for wid, p in found.items() if p.busy}
            failed = {wid: p.failure for wid, p in found.items() if p.failure}
            if failed and time.monotonic() - began > 2.0:  # retried in vain for a while
                raise AssertionError(f"workflow task failing: {failed}")
            if not busy and not failed:
                fires = [t for p in found.values() for t in p.timers]
                return min(fires) if fires else None
            if time.monotonic() - began > SETTLE_TIMEOUT:
                raise AssertionError(f"workflows still busy after {SETTLE_TIMEOUT}s: {busy}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)

    async def advance(self, seconds: float) -> None:
        """Let `seconds` of workflow time pass (every timer in between fires), then settle."""
        await self.env.sleep(seconds)
        await self.settle()

    async def drive(
        self, check: Callable[[], Any], limit: float = 120 * DAY, until: datetime | None = None
    ) -> Any:
        """Settle, check, jump to the next timer; repeat until `check` holds (its value is
        returned) or `limit` of workflow time has passed. With `until`, the clock stops
        there instead: None is returned once it is reached without `check` holding."""
        start = await self.env.get_current_time()
        while True:
            fire = await self.settle()
            value = check()
            if value:
                return value
            now = await self.env.get_current_time()
            if until is not None and (fire is None or fire >= until):
                if now < until:
                    await self.advance((until - now).total_seconds())
                    continue  # check once more at `until`
                return None
            if fire is None:
                raise AssertionError("condition never held and no timer is pending")
            if (fire - start).total_seconds() > limit:
                raise AssertionError(f"condition never held within {limit / DAY:g} days")
            # a second past the fire time: the timer has surely fired when the sleep ends
            await self.env.sleep(max((fire - now).total_seconds(), 0.0) + 1.0)

    async def task(self, wid: str, kind: str) -> Task:
        found: Task = await self.drive(lambda: self.open_task(wid, kind))
        return found

    async def complete(
        self, handle: WorkflowHandle[Any, Any], task: Task, actor: str = "user.test", **result: Any
    ) -> TaskCompletionResult:
        return await handle.execute_update(  # type: ignore[no-any-return]
            "complete_task",
            TaskCompletion(task.task_id, result, actor),
            id=task.task_id,
            result_type=TaskCompletionResult,
        )


@dataclass
class Shared:
    """The session's store, policy version and worker queue."""

    sessions: sessionmaker[Session]
    version: str
    queue: str


@pytest.fixture(scope="session")
async def shared_worker(
    time_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Shared]:
    """One store (migrated, shipped policy active) and one worker with the real activities
    for every workflow test: tests use their own customers and workflow ids."""
    await register_search_attributes(time_env.client)
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('wfstore')) / 'segflow.db'}"
    db.upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions.begin() as s:
        version = policy_store.activate_directory(s, ROOT / "policies", "test").version
    queue = f"wf-{uuid.uuid4().hex[:8]}"
    activities = InboxActivities(sessions).all() + AdapterActivities(sessions).all()
    activities += CallbackActivities(sessions).all()
    activities += ProcessActivities(sessions, time_env.client).all()
    activities += ProtectionActivities(sessions).all()
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with Worker(
            time_env.client,
            task_queue=queue,
            workflows=worker_module.WORKFLOWS,
            activities=activities,
            activity_executor=executor,
            workflow_runner=worker_module.workflow_runner(),
        ):
            yield Shared(sessions, version, queue)
    engine.dispose()


@pytest.fixture
def rig(time_env: WorkflowEnvironment, shared_worker: Shared) -> Rig:
    """A test's view of the shared store and worker."""
    return Rig(time_env, shared_worker.sessions, shared_worker.version, shared_worker.queue)
