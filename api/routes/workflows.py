"""Workflows: state and the auditor's readable history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from temporalio.service import RPCError

from api import timeline
from api.deps import Db, State, require
from api.errors import ERROR_RESPONSES, ApiError
from api.schemas import WorkflowHistory
from store.credentials import Principal

router = APIRouter(prefix="/v1/workflows", tags=["workflows"], responses=ERROR_RESPONSES)
READERS = ("crm", "auditor", "supervisor")


@router.get("/{workflow_id}", summary="A workflow's status and current state.")
async def get_workflow(
    workflow_id: str, app: State, _: Annotated[Principal, Depends(require(*READERS))]
) -> dict[str, Any]:
    """Temporal's description plus the workflow's `state` query while it runs."""
    handle = app.temporal.get_workflow_handle(workflow_id)
    try:
        desc = await handle.describe()
    except RPCError as err:
        raise ApiError(404, "Not found", f"no workflow {workflow_id}") from err
    state: Any = None
    if desc.status is not None and desc.status.name == "RUNNING":
        state = await handle.query("state")
    return {
        "workflow_id": workflow_id,
        "run_id": desc.run_id,
        "type": desc.workflow_type,
        "status": desc.status.name if desc.status else None,
        "started_at": desc.start_time,
        "closed_at": desc.close_time,
        "state": state,
    }


@router.get(
    "/{workflow_id}/history",
    response_model=WorkflowHistory,
    summary="Readable timeline: every step, timer, task, who and when, across runs.",
)
async def history(
    workflow_id: str, app: State, db: Db, _: Annotated[Principal, Depends(require(*READERS))]
) -> WorkflowHistory:
    """Built from the Temporal history of every run and the store's audit log."""
    result = await timeline.build(app.temporal, db, workflow_id)
    if result.runs == 0:
        raise ApiError(404, "Not found", f"no workflow {workflow_id}")
    return result
