"""A workflow's readable timeline: Temporal history of every run merged with the audit log
(the response models live here too; api/schemas.py re-exports them)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.converter import decode_search_attributes

from store.models import AuditEntry, Task
from workflows.attributes import SA_STAGE


class HistoryEntry(BaseModel):
    """One line of a workflow's readable timeline."""

    at: datetime
    source: str = Field(description="temporal (workflow history) or audit (audit log).")
    event: str
    who: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    policy_version: str | None = None


class WorkflowHistory(BaseModel):
    """A workflow's timeline across all its runs."""

    workflow_id: str
    runs: int
    entries: list[HistoryEntry]


_SKIP = {
    "workflow_task_scheduled_event_attributes",
    "workflow_task_started_event_attributes",
    "workflow_task_completed_event_attributes",
    "activity_task_started_event_attributes",
    "activity_task_completed_event_attributes",
    "workflow_execution_update_completed_event_attributes",
    "workflow_execution_update_admitted_event_attributes",
}


def _payloads(client: Client, payloads: Any) -> list[Any]:
    try:
        return list(client.data_converter.payload_converter.from_payloads(list(payloads.payloads)))
    except Exception:  # a payload we cannot decode is shown as absent, not fatal
        return []


def _local_activity(attrs: Any) -> str | None:
    """The activity type of a local activity's marker (None for other markers)."""
    if attrs.marker_name != "core_local_activity" or "data" not in attrs.details:
        return None
    try:
        data = json.loads(attrs.details["data"].payloads[0].data)
    except (ValueError, IndexError):
        return None
    name = data.get("activity_type") if isinstance(data, dict) else None
    return str(name) if name else None


def _describe(client: Client, event: HistoryEvent) -> HistoryEntry | None:
    kind = event.WhichOneof("attributes")
    if kind is None or kind in _SKIP:
        return None
    attrs = getattr(event, kind)
    at = event.event_time.ToDatetime(tzinfo=UTC)
    name = kind.removesuffix("_event_attributes")
    detail: dict[str, Any] = {}
    who = None
    if kind == "workflow_execution_started_event_attributes":
        name = f"workflow started: {attrs.workflow_type.name}"
        detail["input"] = _payloads(client, attrs.input)
    elif kind == "activity_task_scheduled_event_attributes":
        name = f"step: {attrs.activity_type.name}"
        detail["input"] = _payloads(client, attrs.input)
    elif kind == "marker_recorded_event_attributes":
        step = _local_activity(attrs)
        if step is None:
            return None
        name = f"step: {step}"
    elif kind == "activity_task_failed_event_attributes":
        detail["failure"] = attrs.failure.message
    elif kind == "timer_started_event_attributes":
        name = "timer started"
        detail["fires_in_seconds"] = attrs.start_to_fire_timeout.ToTimedelta().total_seconds()
    elif kind == "workflow_execution_signaled_event_attributes":
        name = f"signal: {attrs.signal_name}"
        detail["input"] = _payloads(client, attrs.input)
    elif kind == "workflow_execution_update_accepted_event_attributes":
        req = attrs.accepted_request
        name = f"update: {req.input.name}"
        args = _payloads(client, req.input.args)
        detail["input"] = args
        if args and isinstance(args[0], dict):
            who = args[0].get("actor")
    elif kind == "upsert_workflow_search_attributes_event_attributes":
        values = decode_search_attributes(attrs.search_attributes)
        stage = values.get(SA_STAGE)
        name = f"stage: {stage[0]}" if stage else "search attributes"
        detail["search_attributes"] = {k: v[0] if len(v) == 1 else v for k, v in values.items()}
    elif kind == "workflow_execution_completed_event_attributes":
        name = "workflow completed"
        detail["result"] = _payloads(client, attrs.result)
    elif kind == "workflow_execution_continued_as_new_event_attributes":
        name = "continued as new (next cycle)"
    return HistoryEntry(at=at, source="temporal", event=name, who=who, detail=detail)


def _audit_rows(session: Session, workflow_id: str) -> list[AuditEntry]:
    """Audit entries of the workflow and of its tasks (store work, off the event loop)."""
    task_ids = list(session.scalars(select(Task.task_id).where(Task.workflow_id == workflow_id)))
    rows = session.scalars(
        select(AuditEntry).where(
            or_(
                AuditEntry.target == f"workflow:{workflow_id}",
                AuditEntry.target.in_([f"task:{t}" for t in task_ids]),
            )
        )
    ).all()
    session.commit()
    return list(rows)


async def build(client: Client, session: Session, workflow_id: str) -> WorkflowHistory:
    """Every run's events (oldest first) merged with the audit entries of the workflow."""
    run_ids = [wf.run_id async for wf in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    entries: list[HistoryEntry] = []
    for run_id in reversed(run_ids):
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        entries += [e for e in (_describe(client, ev) for ev in history.events) if e]
    for row in await asyncio.to_thread(_audit_rows, session, workflow_id):
        at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
        entries.append(
            HistoryEntry(
                at=at,
                source="audit",
                event=row.action,
                who=row.actor,
                detail={"target": row.target, **row.detail},
                policy_version=row.policy_version,
            )
        )
    entries.sort(key=lambda e: (e.at, e.source != "temporal"))
    return WorkflowHistory(workflow_id=workflow_id, runs=len(run_ids), entries=entries)
