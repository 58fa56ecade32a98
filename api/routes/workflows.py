"""Workflows (HTTP shape of services/workflows.py): state, the auditor's readable history,
the list, signals, cancel and starts by business key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from api.deps import Db, State, require
from api.errors import ERROR_RESPONSES
from services import workflows
from services.timeline import WorkflowHistory
from store.credentials import Principal

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
    await workflows.signal(
        app.temporal, db, principal.name, workflow_id, name, body.payload, request.state.request_id
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
    started = await workflows.start(
        app.temporal, db, app.settings.task_queue, principal.name, kind, body,
        request.state.request_id,
    )  # fmt: skip
    app.metrics.workflows_started.labels(kind).inc()
    return {
        "workflow_id": started.workflow_id,
        "run_id": started.run_id,
        "state_url": f"/v1/workflows/{started.workflow_id}",
    }
