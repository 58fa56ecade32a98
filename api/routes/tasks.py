"""Task inboxes: list my tasks, claim, complete (a Temporal Update whose id is the task id)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from api.deps import Db, State, require
from api.errors import ERROR_RESPONSES, ApiError, from_domain
from api.schemas import TaskCompleteIn, TaskCompleteOut, TaskOut, task_out
from services import tasks as task_service
from services.tasks import OVERSEERS, WORKERS, TaskError
from store.credentials import ROLES, Principal

router = APIRouter(prefix="/v1/tasks", tags=["tasks"], responses=ERROR_RESPONSES)
__all__ = ["OVERSEERS", "WORKERS", "router", "task_out"]


def problem(err: TaskError) -> ApiError:
    """A service refusal as problem+json."""
    return from_domain(err)


@router.get("", response_model=list[TaskOut], summary="My tasks and my role queues, overdue first.")
def list_tasks(
    db: Db,
    principal: Annotated[Principal, Depends(require(*WORKERS, "auditor"))],
    status: Annotated[list[str] | None, Query(description="Filter by status.")] = None,
    kind: Annotated[str | None, Query(description="Filter by task kind.", max_length=40)] = None,
    customer_id: Annotated[
        str | None, Query(description="Filter by customer.", max_length=64)
    ] = None,
    workflow_id: Annotated[
        str | None, Query(description="Filter by workflow.", max_length=200)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[TaskOut]:
    """Open and claimed tasks by default; overdue ones first, then by due time. Agents and
    inspectors see their own tasks, their role queues and what they completed."""
    rows = task_service.list_tasks(
        db, principal, status=status, kind=kind, customer_id=customer_id,
        workflow_id=workflow_id, limit=limit, offset=offset,
    )  # fmt: skip
    return [task_out(t) for t in rows]


@router.get("/{task_id}", response_model=TaskOut, summary="One task.")
def get_task(
    task_id: str, db: Db, principal: Annotated[Principal, Depends(require(*WORKERS, "auditor"))]
) -> TaskOut:
    """A task the caller may see."""
    try:
        return task_out(task_service.get(db, principal, task_id))
    except TaskError as err:
        raise problem(err) from err


@router.post(
    "/{task_id}/claim",
    response_model=TaskOut,
    summary="Take a queue task.",
    responses={409: ERROR_RESPONSES[403] | {"description": "Claimed by someone else."}},
)
def claim(
    task_id: str,
    request: Request,
    db: Db,
    principal: Annotated[Principal, Depends(require(*WORKERS))],
) -> TaskOut:
    """Assign an open queue task to the caller (idempotent for the same caller); of two
    concurrent claims exactly one wins, the other gets 409."""
    try:
        return task_out(task_service.claim(db, principal, task_id, request.state.request_id))
    except TaskError as err:
        raise problem(err) from err


@router.post(
    "/{task_id}/complete",
    response_model=TaskCompleteOut,
    summary="Complete a task; the workflow takes the result as a Temporal Update.",
    responses={409: ERROR_RESPONSES[403] | {"description": "Already completed differently."}},
)
async def complete(
    task_id: str,
    body: TaskCompleteIn,
    request: Request,
    app: State,
    principal: Annotated[Principal, Depends(require(*WORKERS))],
) -> TaskCompleteOut:
    """422 (problem+json) lists each refused value of `result` with its `path` (JSON pointer
    without the leading slash: `contacts/phone`, `results/0/fixed`) and a stable `code`
    (`missing`, also for a field the chosen outcome requires; `extra_forbidden`,
    `finite_number`, ...); nothing reaches the workflow. 409 when completed differently (also
    concurrently) or no longer open; an identical retry returns the first outcome."""
    try:
        done = await task_service.complete(
            app.sessions, app.temporal, principal, task_id, body.result,
            request.state.request_id,
        )  # fmt: skip
    except TaskError as err:
        raise problem(err) from err
    return TaskCompleteOut(task=task_out(done.task), workflow_stage=done.stage)


class ReassignIn(BaseModel):
    """Where the task goes: a principal, or back to a role queue."""

    assignee: str | None = Field(
        default=None, max_length=100, description="Principal to hold the task."
    )
    queue: str | None = Field(
        default=None,
        pattern="^(" + "|".join(ROLES) + ")$",
        description="Role queue (unassigns the task).",
    )
    reason: str = Field(min_length=3, max_length=500, description="Why (audited).")


@router.post("/{task_id}/reassign", response_model=TaskOut, summary="Move a task (supervisor).")
def reassign(
    task_id: str,
    body: ReassignIn,
    request: Request,
    app: State,
    db: Db,
    principal: Annotated[Principal, Depends(require("supervisor"))],
) -> TaskOut:
    """Give a live task to someone else or put it back in a queue; a task completed or
    cancelled meanwhile is a 409 (never reopened)."""
    try:
        task = task_service.reassign(
            db, principal, task_id, assignee=body.assignee, queue=body.queue,
            reason=body.reason, known={p.name for p in app.credentials.principals()},
            request_id=request.state.request_id,
        )  # fmt: skip
    except TaskError as err:
        raise problem(err) from err
    return task_out(task)
