"""Process timeline simulation: what the real workflows would do to one customer under a
policy version, given a scenario of events (services/scenario.py), step by step with dates.

The customer (stored, read once from the live store, or inline) is segmented under the
version; its segment processes start on day 0, the scenario's events start or signal the
event-driven ones on their day, and tasks are answered as the scenario says (default: the
first outcome of the kind, one day after the task opened). Everything runs in a sandbox
(services/sandbox.py): the live store is only read, the live Temporal never called.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session
from temporalio.client import WorkflowUpdateFailedError

import rules
from activities import customers as customer_store
from config import Settings
from rules.reference import assign as reference_assign
from services import events, processes
from services.event_types import CUSTOMERLESS, parse
from services.relay import Relay
from services.sandbox import DAY, Sandbox, Seen, open_sandbox
from services.scenario import RECORD_UPDATE, Answer, Scenario, ScenarioEvent, Step
from store.models import Assignment, Customer, Task
from workflows.task_kinds import TASK_KINDS
from workflows.task_payloads import TaskCompletion, TaskCompletionResult

ACTOR = "simulation"
# one durable-rules engine per policy version (its rulesets are registered once, by name)
_ENGINES: dict[str, rules.Engine] = {}


def engine_for(bundle: rules.Bundle) -> rules.Engine:
    """The points and segmentation engine the event routing needs, per version."""
    if bundle.version not in _ENGINES:
        _ENGINES[bundle.version] = rules.Engine(bundle)
    return _ENGINES[bundle.version]


@dataclass
class Entry:
    """One line of the timeline."""

    day: int
    at: str
    step: str  # the label tests compare: `arrears.started`, `task:collection`, `sms:...`
    workflow_id: str | None
    detail: dict[str, Any]


@dataclass
class Timeline:
    """The simulated timeline of one customer."""

    customer_id: str
    policy_version: str
    start: str
    days: int
    assignment: dict[str, Any]
    entries: list[Entry] = field(default_factory=list)

    def steps(self) -> list[Step]:
        """(day, step) of every entry, the form scenario files expect."""
        return [Step(day=e.day, step=e.step) for e in self.entries]

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["tasks"] = sum(1 for e in self.entries if e.step.startswith("task:"))
        return out


def label(seen: Seen) -> str:
    """The stable step label of something the sandbox saw."""
    if seen.source == "adapter":
        return f"{seen.detail.get('adapter')}:{seen.what}"
    if seen.what.startswith("workflow.") and seen.workflow_id:
        return f"{seen.workflow_id.split(':', 1)[0]}.{seen.what.removeprefix('workflow.')}"
    if seen.what == "task.opened":
        return f"task:{seen.detail.get('kind')}"
    return seen.what


def completion(kind: str, context: dict[str, Any], answer: Answer) -> dict[str, Any]:
    """A valid result for a task of `kind`: the answer's outcome and fields, the rest filled
    from the kind's schema (first outcome; one row per hazard, fixed unless told)."""
    schema = TASK_KINDS[kind]["schema"]
    props = schema["properties"]
    fields = dict(answer.fields)
    result: dict[str, Any] = {}
    if "outcome" in props:
        result["outcome"] = answer.outcome or props["outcome"]["enum"][0]
    for name in schema.get("required", []):
        if name in result or name in fields:
            continue
        sub = props[name]
        if sub.get("type") == "array":
            fixed = bool(fields.pop("fixed", True))
            hazards = context.get("hazards") or [{"hazard_id": "H1"}]
            ids = [h["hazard_id"] if isinstance(h, dict) else str(h) for h in hazards]
            result[name] = [{"hazard_id": i, "fixed": fixed} for i in ids]
        elif sub.get("type") in ("number", "integer"):
            result[name] = 0
    fields.pop("fixed", None)
    return {**result, **fields}


class Driver:
    """Applies events on their day and answers tasks; the sandbox's `on_idle`."""

    def __init__(self, sb: Sandbox, sc: Scenario, cid: str, abc: str, start: datetime) -> None:
        self.sb, self.sc, self.cid, self.abc, self.start = sb, sc, cid, abc, start
        self.pending = sorted(sc.events, key=lambda e: e.day)
        self.first_seen: dict[str, datetime] = {}
        self.done: set[str] = set()
        self.notes: list[Seen] = []

    async def start_segment_processes(
        self, wanted: dict[str, Any], before: dict[str, Any], cid: str | None = None
    ) -> None:
        """Start (and stop) the segment processes `wanted` asks of `cid` (default: ours)."""
        who = cid or self.cid
        change = processes.diff(who, before, wanted)
        await processes.apply(self.sb.client, self.sb.queue, [change])
        for name, _ in change.start:
            self.sb.follow(processes.workflow_id(name, who))

    async def __call__(self, now: datetime) -> tuple[bool, datetime | None]:
        acted = False
        while self.pending and self.start + timedelta(days=self.pending[0].day) <= now:
            await self._apply(self.pending.pop(0), now)
            acted = True
        wake = [self.start + timedelta(days=self.pending[0].day)] if self.pending else []
        for task in await self.sb.open_tasks():
            if task.task_id in self.done:
                continue
            answer = self.sc.answers.get(task.kind, Answer())
            if answer.never:
                continue
            seen = self.first_seen.setdefault(task.task_id, now)
            due = seen + timedelta(days=answer.after_days)
            if due <= now:
                await self._complete(task, answer)
                acted = True
            else:
                wake.append(due)
        return acted, (min(wake) if wake else None)

    async def _complete(self, task: Task, answer: Answer) -> None:
        self.done.add(task.task_id)
        result = completion(task.kind, task.context or {}, answer)
        handle = self.sb.client.get_workflow_handle(task.workflow_id)
        try:
            await handle.execute_update(
                "complete_task", TaskCompletion(task.task_id, result, ACTOR),
                id=task.task_id, result_type=TaskCompletionResult,
            )  # fmt: skip
            self.notes.append(Seen(await self.sb.now(), "scenario", f"answer:{task.kind}",
                                   task.workflow_id, result))  # fmt: skip
        except WorkflowUpdateFailedError as err:
            note = {"task_id": task.task_id, "kind": task.kind, "error": str(err.cause or err)}
            self.notes.append(Seen(await self.sb.now(), "scenario", "task.rejected",
                                   task.workflow_id, note))  # fmt: skip

    async def _apply(self, ev: ScenarioEvent, now: datetime) -> None:
        if ev.type == RECORD_UPDATE:  # the record changes; CRM events audit themselves
            self.notes.append(Seen(now, "scenario", f"event:{ev.type}", None, dict(ev.data)))
            await self._update_record(ev.data)
            return
        # the service's own event handling in the sandbox's store (record, audit, outbox
        # rows in one transaction), then the real relay applies the rows to the sandbox
        cid = None if ev.type in CUSTOMERLESS else self.cid
        event = parse({"event_id": f"sim-{len(self.notes)}", "type": ev.type,
                       "customer_id": cid, "data": dict(ev.data)})  # fmt: skip

        def accept() -> dict[str, Any]:
            with self.sb.sessions() as s:
                return events.accept(s, engine_for, event, ACTOR, None)

        answer = await asyncio.to_thread(accept)
        await Relay(self.sb.sessions, self.sb.client, self.sb.queue).run(until_idle=True)
        for row in answer.get("transitions", []):
            if isinstance(row, dict) and row.get("workflow_id"):
                self.sb.follow(str(row["workflow_id"]))
        for wid in answer.get("routed_to", []):
            self.sb.follow(str(wid))

    async def _update_record(self, data: dict[str, Any]) -> None:
        bundle, cid, abc = self.sb.bundle, self.cid, self.abc

        def work(s: Session) -> tuple[dict[str, Any], dict[str, Any]]:
            row = s.get(Customer, cid)
            assert row is not None
            record = rules.validate_record({**customer_store.record_of(row), **data})
            customer_store.store_record(s, record)
            return store_assignment(s, bundle, record, abc)

        before, after = await self.sb.store(work)
        await self.start_segment_processes(after, before)


def store_assignment(
    s: Session, bundle: rules.Bundle, record: dict[str, Any], abc: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Segment `record` under `bundle`; (processes before, processes after)."""
    result = reference_assign(bundle, record, abc)
    row = s.get(Assignment, record["customer_id"])
    before = dict(row.processes) if row is not None else {}
    if row is None:
        row = Assignment(customer_id=record["customer_id"])
        s.add(row)
    for name, value in result.to_json().items():
        if name != "customer_id":
            setattr(row, name, value)
    return before, result.processes


async def run(
    bundle: rules.Bundle,
    record: dict[str, Any],
    abc: str,
    sc: Scenario,
    settings: Settings | None = None,
) -> Timeline:
    """Simulate `sc` for the validated `record` (ABC class `abc`) under `bundle`."""
    cid = str(record["customer_id"])

    def load(s: Session) -> None:
        customer_store.store_record(s, record)
        s.flush()
        store_assignment(s, bundle, record, abc)

    async with open_sandbox(bundle, load, settings) as sb:
        start = await sb.now()
        if sc.start is not None and sc.start > start:
            await sb.env.sleep((sc.start - start).total_seconds())
            start = await sb.now()
        assignment = reference_assign(bundle, record, abc)
        driver = Driver(sb, sc, cid, abc, start)
        await driver.start_segment_processes(assignment.processes, {})
        await sb.run(start + timedelta(days=sc.days), driver)
        seen = [*driver.notes, *sb.seen]
    timeline = Timeline(cid, bundle.version, start.isoformat(), sc.days, assignment.to_json())

    # workflow time from the record itself where it has one (`at`), else when it was seen
    # (a few milliseconds later); within a second an event comes before what it caused
    def key(pair: tuple[int, Seen]) -> tuple[datetime, bool, int]:
        i, x = pair
        cause = x.source == "scenario" or x.what.startswith("event.")
        return _when(x).replace(microsecond=0), not cause, i

    dated = [(_when(x), x) for _, x in sorted(enumerate(seen), key=key)]
    for when, item in dated:
        day = math.floor((when - start).total_seconds() / DAY)
        if 0 <= day <= sc.days:
            timeline.entries.append(
                Entry(day, when.isoformat(), label(item), item.workflow_id, item.detail)
            )
    return timeline


def _when(seen: Seen) -> datetime:
    at = seen.detail.get("at")
    if isinstance(at, str):
        try:
            parsed = datetime.fromisoformat(at)
        except ValueError:
            return seen.at
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=seen.at.tzinfo)
    return seen.at
