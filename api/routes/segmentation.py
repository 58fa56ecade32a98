"""Segmentation runs: re-segment the whole population as a Temporal workflow in batches."""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from temporalio.client import WorkflowQueryFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from api.deps import Db, State, audit_and_commit, require
from api.errors import ERROR_RESPONSES, ApiError
from store.credentials import Principal
from workflows.segmentation_payloads import SegmentationProgress, SegmentationRunInput

router = APIRouter(prefix="/v1/segmentation-runs", tags=["segmentation"], responses=ERROR_RESPONSES)


class RunIn(BaseModel):
    """How to split the work."""

    batch_size: int = Field(
        default=20_000, ge=100, le=200_000, description="Customers per batch (one activity each)."
    )
    parallelism: int = Field(default=2, ge=1, le=16, description="Batches at a time.")


def _workflow_id(run_id: str) -> str:
    return f"segmentation:{run_id}"


@router.post("", status_code=202, summary="Start a whole-population segmentation run.")
async def start(
    request: Request,
    app: State,
    db: Db,
    principal: Annotated[Principal, Depends(require("crm", "policy_owner"))],
    body: RunIn | None = None,
) -> dict[str, Any]:
    """Runs under the active policy; workers share the batches. Poll the returned URL."""
    body = body or RunIn()
    run_id = uuid.uuid4().hex[:16]
    await app.temporal.start_workflow(
        "segmentation_run",
        SegmentationRunInput(run_id, principal.name, body.batch_size, body.parallelism),
        id=_workflow_id(run_id),
        task_queue=app.settings.control_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    await run_in_threadpool(
        partial(
            audit_and_commit,
            db,
            actor=principal.name,
            action="segmentation.started",
            target=_workflow_id(run_id),
            request_id=request.state.request_id,
            detail=body.model_dump(),
        )
    )
    return {
        "run_id": run_id,
        "workflow_id": _workflow_id(run_id),
        "status_url": f"/v1/segmentation-runs/{run_id}",
    }


@router.get("/{run_id}", summary="Progress of a segmentation run.")
async def progress(
    run_id: str,
    app: State,
    _: Annotated[Principal, Depends(require("crm", "policy_owner", "auditor", "supervisor"))],
) -> dict[str, Any]:
    """Batches and customers done, changes, processes started and stopped, the rate
    (customers per second) and the estimated seconds to go."""
    handle = app.temporal.get_workflow_handle(
        _workflow_id(run_id), result_type=SegmentationProgress
    )
    try:
        desc = await handle.describe()
    except RPCError as err:
        raise ApiError(404, "Not found", f"no segmentation run {run_id}") from err
    status = desc.status.name if desc.status else "UNKNOWN"
    if status == "COMPLETED":
        result: SegmentationProgress = await handle.result()
    elif status == "RUNNING":
        try:
            result = await handle.query(
                "progress", result_type=SegmentationProgress, rpc_timeout=timedelta(seconds=5)
            )
        except (RPCError, WorkflowQueryFailedError):
            # no worker has picked the run up yet
            result = SegmentationProgress(run_id=run_id, stage="waiting for a worker")
    else:
        result = SegmentationProgress(run_id=run_id, stage=status.lower())
    return {"status": status.lower(), **result.__dict__}
