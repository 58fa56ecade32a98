"""Workflows seen from outside: who may read one, its state, its readable timeline, the list
by customer / kind / status (Temporal visibility), and a supervisor's cancel.

The API's /v1/workflows routes and the auditor's and supervisor's pages call these, so the
checks, the Temporal calls and the audit entries are the same whichever door is used. No store
transaction stays open while Temporal is called.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError

from services import access, timeline
from services.errors import Invalid, Issue, NotFound
from store import audit
from store.credentials import Principal
from workflows.payloads import CancelRequest

READERS = ("crm", "auditor", "supervisor")
HOLDERS = ("agent", "inspector")  # object-level: workflows they have a task in
STATUSES = {s.name.lower(): s.name for s in WorkflowExecutionStatus}


def _not_found(workflow_id: str) -> NotFound:
    return NotFound("Not found", f"no workflow {workflow_id}")


async def ensure_readable(db: Session, principal: Principal, workflow_id: str) -> None:
    """NotFound unless the caller may read the workflow (agents, inspectors: their tasks')."""
    if not await asyncio.to_thread(access.may_read_workflow, db, principal, workflow_id):
        raise _not_found(workflow_id)


async def describe(
    client: Client, db: Session, principal: Principal, workflow_id: str
) -> dict[str, Any]:
    """Temporal's description plus the workflow's `state` query while it runs."""
    await ensure_readable(db, principal, workflow_id)
    handle = client.get_workflow_handle(workflow_id)
    try:
        desc = await handle.describe()
    except RPCError as err:
        raise _not_found(workflow_id) from err
    state: Any = None
    note = None
    if desc.status is not None and desc.status.name == "RUNNING":
        try:
            state = await handle.query("state", rpc_timeout=timedelta(seconds=5))
        except (RPCError, WorkflowQueryFailedError) as err:
            # no worker polling right now, or a workflow without a `state` query
            note = f"state unavailable: {err}"
    return {
        "workflow_id": workflow_id,
        "run_id": desc.run_id,
        "type": desc.workflow_type,
        "status": desc.status.name if desc.status else None,
        "started_at": desc.start_time,
        "closed_at": desc.close_time,
        "state": state,
        "state_note": note,
    }


async def history(
    client: Client, db: Session, principal: Principal, workflow_id: str
) -> timeline.WorkflowHistory:
    """Every run's history merged with the audit log; NotFound when no run exists."""
    await ensure_readable(db, principal, workflow_id)
    result = await timeline.build(client, db, workflow_id)  # store reads off the loop
    if result.runs == 0:
        raise _not_found(workflow_id)
    return result


def _quote(value: str) -> str:
    if "'" in value or "\\" in value:
        raise Invalid("Invalid request", issues=[Issue("query", "bad value")])
    return f"'{value}'"


async def list_workflows(
    client: Client,
    customer_id: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first, by the CustomerId / ProcessKind search attributes and the status."""
    clauses = []
    if customer_id:
        clauses.append(f"CustomerId = {_quote(customer_id)}")
    if kind:
        clauses.append(f"ProcessKind = {_quote(kind)}")
    if status:
        if status.lower() not in STATUSES:
            raise Invalid(
                "Invalid request", issues=[Issue("query.status", f"one of {sorted(STATUSES)}")]
            )
        clauses.append(f"ExecutionStatus = '{STATUSES[status.lower()].title().replace('_', '')}'")
    out: list[dict[str, Any]] = []
    async for wf in client.list_workflows(" AND ".join(clauses) or None, limit=limit):
        out.append(
            {
                "workflow_id": wf.id,
                "run_id": wf.run_id,
                "type": wf.workflow_type,
                "status": wf.status.name if wf.status else None,
                "started_at": wf.start_time,
                "closed_at": wf.close_time,
            }
        )
        if len(out) >= limit:
            break
    return out


def _audit_commit(db: Session, **entry: Any) -> None:
    audit.append(db, **entry)
    db.commit()


async def cancel(
    client: Client, db: Session, actor: str, workflow_id: str, reason: str, request_id: str
) -> None:
    """Signal `cancel` (the workflow ends at its next safe point, cancels its tasks and records
    the reason), then audit the request; NotFound when no such workflow runs."""
    try:
        await client.get_workflow_handle(workflow_id).signal("cancel", CancelRequest(reason, actor))
    except RPCError as err:
        raise NotFound("Not found", f"no running workflow {workflow_id}") from err
    await asyncio.to_thread(
        _audit_commit,
        db,
        actor=actor,
        action="workflow.cancel_requested",
        target=f"workflow:{workflow_id}",
        request_id=request_id,
        detail={"reason": reason},
    )
