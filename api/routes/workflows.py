"""Workflows: state and the auditor's readable history (HTTP shape of services/workflows.py),
signals, cancel and starts by business key."""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from temporalio.service import RPCError

from activities import workflow_starts
from api.deps import Db, State, audit_and_commit, require
from api.errors import ERROR_RESPONSES, ApiError
from services import workflows
from services.timeline import WorkflowHistory
from store.credentials import Principal
from store.models import Customer

router = APIRouter(prefix="/v1/workflows", tags=["workflows"], responses=ERROR_RESPONSES)
READERS = workflows.READERS
HOLDERS = workflows.HOLDERS


@router.get("/{workflow_id}", summary="A workflow's status and current state.")
async def get_workflow(
    workflow_id: str,
    app: State,
    db: Db,
    principal: Annotated[Principal, Depends(require(*READERS, *HOLDERS))],
) -> dict[str, Any]:
    """Temporal's description plus the workflow's `state` query while it runs. Agents and
    inspectors read only workflows they have a task in (others: 404)."""
    return await workflows.describe(app.temporal, db, principal, workflow_id)


@router.get(
    "/{workflow_id}/history",
    response_model=WorkflowHistory,
    summary="Readable timeline: every step, timer, task, who and when, across runs.",
)
async def history(
    workflow_id: str,
    app: State,
    db: Db,
    principal: Annotated[Principal, Depends(require(*READERS, *HOLDERS))],
) -> WorkflowHistory:
    """Built from the Temporal history of every run and the store's audit log. Agents and
    inspectors read only workflows they have a task in (others: 404)."""
    return await workflows.history(app.temporal, db, principal, workflow_id)


def _known_customer(db: Session, customer_id: str) -> bool:
    known = db.get(Customer, customer_id) is not None
    db.commit()  # no store transaction stays open while Temporal is called
    return known


@router.get("", summary="Workflows by customer, kind and status (Temporal visibility).")
async def list_workflows(
    app: State,
    _: Annotated[Principal, Depends(require(*READERS))],
    customer_id: Annotated[str | None, Query(description="CustomerId search attribute.")] = None,
    kind: Annotated[str | None, Query(description="ProcessKind, e.g. callback.")] = None,
    status: Annotated[str | None, Query(description="running, completed, ...")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """Newest first."""
    return await workflows.list_workflows(app.temporal, customer_id, kind, status, limit)


class SignalIn(BaseModel):
    """A one-way event for a running workflow."""

    payload: dict[str, Any] = Field(default_factory=dict, description="The signal's fields.")


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
# from segmentation and `cancel` only from a supervisor (POST .../cancel), so neither can be
# forged here.
SIGNALS: dict[str, tuple[type[_Signal], str]] = {
    "rectification_reported": (RectificationReportedIn, "hazard:"),
    "case_settled": (CaseSettledIn, "closure:"),
}


@router.post("/{workflow_id}/signals/{name}", status_code=202, summary="Signal a workflow.")
async def signal(
    workflow_id: str,
    name: str,
    body: SignalIn,
    request: Request,
    app: State,
    db: Db,
    principal: Annotated[Principal, Depends(require("crm", "supervisor"))],
) -> dict[str, Any]:
    """Deliver a named signal (`rectification_reported` to a hazard workflow, `case_settled`
    to a closure); the payload is validated against the signal's model (422 with its path)."""
    if name not in SIGNALS:
        raise ApiError(
            422, "Unknown signal", f"one of {sorted(SIGNALS)}",
            errors=[{"path": "path.name", "message": f"one of {sorted(SIGNALS)}"}],
        )  # fmt: skip
    model, prefix = SIGNALS[name]
    if not workflow_id.startswith(prefix):
        raise ApiError(
            422, "Wrong workflow", f"{name} goes to {prefix}... workflows",
            errors=[{"path": "path.workflow_id", "message": f"expected {prefix}..."}],
        )  # fmt: skip
    try:
        payload = model.model_validate(body.payload).model_dump()
    except ValidationError as err:
        errors = [
            {
                "path": ".".join(["body", "payload", *(str(p) for p in e["loc"])]),
                "message": e["msg"],
            }
            for e in err.errors()
        ]
        raise ApiError(422, "Invalid signal", errors=errors) from err
    try:
        await app.temporal.get_workflow_handle(workflow_id).signal(name, payload)
    except RPCError as err:
        raise ApiError(404, "Not found", f"no running workflow {workflow_id}") from err
    await run_in_threadpool(
        partial(
            audit_and_commit,
            db,
            actor=principal.name,
            action=f"workflow.signal.{name}",
            target=f"workflow:{workflow_id}",
            request_id=request.state.request_id,
            detail={"payload": payload},
        )
    )
    return {"workflow_id": workflow_id, "signal": name, "accepted": True}


class CancelIn(BaseModel):
    """Why the process is cancelled."""

    reason: str = Field(min_length=3, max_length=500, description="Recorded in the audit log.")


@router.post("/{workflow_id}/cancel", status_code=202, summary="Cancel a process (supervisor).")
async def cancel(
    workflow_id: str,
    body: CancelIn,
    request: Request,
    app: State,
    db: Db,
    principal: Annotated[Principal, Depends(require("supervisor"))],
) -> dict[str, Any]:
    """The workflow ends at its next safe point, cancels its tasks and records the reason."""
    await workflows.cancel(
        app.temporal, db, principal.name, workflow_id, body.reason, request.state.request_id
    )
    return {"workflow_id": workflow_id, "cancel_requested": True}


@router.post(
    "/{kind}",
    status_code=201,
    summary="Start a process by business key (idempotent: same input, same workflow).",
    responses={409: {"description": "The key runs with a different input."}},
)
async def start_workflow(
    kind: str,
    body: dict[str, Any],
    request: Request,
    app: State,
    db: Db,
    principal: Annotated[Principal, Depends(require("crm", "supervisor"))],
) -> dict[str, Any]:
    """`kind` is one of arrears, hazard, closure, service_request, outage; the body is that
    process's input (e.g. arrears: customer_id, bill_id, amount)."""
    spec = workflow_starts.KINDS.get(kind)
    if spec is None:
        raise ApiError(404, "Not found", f"kind is one of {sorted(workflow_starts.KINDS)}")
    try:
        # JSON-mode strict validation: objects become dataclasses, "50" never becomes 50
        inp = TypeAdapter(spec.input).validate_json(json.dumps(body), strict=True)
    except ValidationError as err:
        raise ApiError(422, "Invalid input", errors=[
            {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in err.errors()]) from err  # fmt: skip
    customer = getattr(inp, "customer_id", None)
    if customer is not None and not await run_in_threadpool(_known_customer, db, customer):
        raise ApiError(422, "Invalid input", errors=[
            {"path": "customer_id", "message": "unknown customer"}])  # fmt: skip
    try:
        started = await workflow_starts.start(app.temporal, app.settings.task_queue, kind, inp)
    except workflow_starts.InputConflict as err:
        raise ApiError(409, "Conflict", str(err)) from err
    except RPCError as err:
        raise ApiError(503, "Temporal unavailable", "retry later") from err
    await run_in_threadpool(
        partial(
            audit_and_commit,
            db,
            actor=principal.name,
            action="workflow.started",
            target=f"workflow:{started.workflow_id}",
            customer_id=customer,
            request_id=request.state.request_id,
            detail={"kind": kind, "input": body},
        )
    )
    app.metrics.workflows_started.labels(kind).inc()
    return {
        "workflow_id": started.workflow_id,
        "run_id": started.run_id,
        "state_url": f"/v1/workflows/{started.workflow_id}",
    }
