"""Workflows seen from outside: who may read one, its state, its readable timeline, the list
by customer / kind / status (Temporal visibility), starts by business key, signals and a
supervisor's cancel.

The API's /v1/workflows routes and the auditor's and supervisor's pages call these, so the
checks, the Temporal calls and the audit entries are the same whichever door is used. No store
transaction stays open while Temporal is called.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError

from activities import workflow_starts
from services import access, timeline
from services.errors import Conflict, Invalid, Issue, NotFound, Unavailable
from store import audit
from store.credentials import Principal
from store.models import Customer
from workflows.signals import CancelSignal

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
        await client.get_workflow_handle(workflow_id).signal("cancel", CancelSignal(reason, actor))
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


_SignalId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


class _Signal(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class RectificationReportedIn(_Signal):
    """`rectification_reported` (hazard workflows): the customer says hazards are fixed."""

    hazard_ids: list[_SignalId] = Field(default_factory=list, max_length=100)
    note: str = Field(default="", max_length=500)


class CaseSettledIn(_Signal):
    """`case_settled` (closure workflows): the theft / tampering case is settled."""

    case_id: str = Field(default="", max_length=64)
    amount_paid: float = Field(default=0.0, ge=0, le=1e12)
    note: str = Field(default="", max_length=500)


# name -> (payload model, workflow id prefix). Payments, payment plans and missed instalments
# arrive only as CRM events (validated there, deduplicated by event id); `leave` comes only
# from segmentation and `cancel` only from a supervisor (cancel above), so neither can be
# forged through a signal.
SIGNALS: dict[str, tuple[type[_Signal], str]] = {
    "rectification_reported": (RectificationReportedIn, "hazard:"),
    "case_settled": (CaseSettledIn, "closure:"),
}


async def signal(
    client: Client,
    db: Session,
    actor: str,
    workflow_id: str,
    name: str,
    raw: dict[str, Any],
    request_id: str,
) -> None:
    """Validate `raw` against the signal's model, deliver it and audit it."""
    if name not in SIGNALS:
        message = f"one of {sorted(SIGNALS)}"
        raise Invalid("Unknown signal", message, [Issue("path.name", message)])
    model, prefix = SIGNALS[name]
    if not workflow_id.startswith(prefix):
        raise Invalid(
            "Wrong workflow",
            f"{name} goes to {prefix}... workflows",
            [Issue("path.workflow_id", f"expected {prefix}...")],
        )
    try:
        payload = model.model_validate(raw).model_dump()
    except ValidationError as err:
        issues = [
            Issue(".".join(["body", "payload", *(str(p) for p in e["loc"])]), e["msg"])
            for e in err.errors()
        ]
        raise Invalid("Invalid signal", issues=issues) from err
    try:
        await client.get_workflow_handle(workflow_id).signal(name, payload)
    except RPCError as err:
        raise NotFound("Not found", f"no running workflow {workflow_id}") from err
    await asyncio.to_thread(
        _audit_commit,
        db,
        actor=actor,
        action=f"workflow.signal.{name}",
        target=f"workflow:{workflow_id}",
        request_id=request_id,
        detail={"payload": payload},
    )


def _known_customer(db: Session, customer_id: str) -> bool:
    known = db.get(Customer, customer_id) is not None
    db.commit()  # no store transaction stays open while Temporal is called
    return known


async def start(
    client: Client,
    db: Session,
    task_queue: str,
    actor: str,
    kind: str,
    body: dict[str, Any],
    request_id: str,
) -> workflow_starts.Started:
    """Start a process by business key (same input, same workflow) and audit it."""
    spec = workflow_starts.KINDS.get(kind)
    if spec is None:
        raise NotFound("Not found", f"kind is one of {sorted(workflow_starts.KINDS)}")
    try:
        # JSON-mode strict validation: objects become dataclasses, "50" never becomes 50
        inp = TypeAdapter(spec.input).validate_json(json.dumps(body), strict=True)
    except ValidationError as err:
        issues = [Issue(".".join(str(p) for p in e["loc"]), e["msg"]) for e in err.errors()]
        raise Invalid("Invalid input", issues=issues) from err
    customer = getattr(inp, "customer_id", None)
    if customer is not None and not await asyncio.to_thread(_known_customer, db, customer):
        raise Invalid("Invalid input", issues=[Issue("customer_id", "unknown customer")])
    try:
        started = await workflow_starts.start(client, task_queue, kind, inp)
    except workflow_starts.InputConflict as err:
        raise Conflict("Conflict", str(err)) from err
    except RPCError as err:
        raise Unavailable("Temporal unavailable", "retry later") from err
    await asyncio.to_thread(
        _audit_commit,
        db,
        actor=actor,
        action="workflow.started",
        target=f"workflow:{started.workflow_id}",
        customer_id=customer,
        request_id=request_id,
        detail={"kind": kind, "input": body},
    )
    return started
