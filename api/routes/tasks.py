"""Task inboxes: list my tasks, claim, complete (a Temporal Update whose id is the task id)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import and_, case, or_, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.deps import Db, State, require
from api.errors import ERROR_RESPONSES, ApiError
from api.schemas import TaskCompleteIn, TaskCompleteOut, TaskOut
from store import audit
from store.credentials import Principal
from store.models import Task
from workflows.payloads import TaskCompletion, TaskCompletionResult
from workflows.task_kinds import schema_for
from workflows.tasks import completion_errors

router = APIRouter(prefix="/v1/tasks", tags=["tasks"], responses=ERROR_RESPONSES)
WORKERS = ("agent", "inspector", "supervisor")
OVERSEERS = ("supervisor",)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def task_out(task: Task) -> TaskOut:
    """API form of a task row."""
    due = _aware(task.due_at)
    return TaskOut(
        task_id=task.task_id,
        workflow_id=task.workflow_id,
        kind=task.kind,
        title=task.title,
        customer_id=task.customer_id,
        queue=task.queue,
        assignee=task.assignee,
        status=task.status,
        due_at=due,
        overdue=task.status in ("open", "claimed") and due < datetime.now(UTC),
        context=task.context,
        result=task.result,
        completed_by=task.completed_by,
        completed_at=task.completed_at,
        policy_version=task.policy_version,
        priority=task.priority or 0,
        completion_schema=schema_for(task.kind),
    )


def may_act(principal: Principal, task: Task) -> bool:
    """Own task, or unclaimed in one of my role queues; supervisors act on any."""
    if principal.has(*OVERSEERS):
        return True
    if task.assignee is not None:
        return task.assignee == principal.name
    return task.queue in principal.roles


def _visible(principal: Principal):  # type: ignore[no-untyped-def]
    if principal.has(*OVERSEERS, "auditor"):
        return True
    return or_(
        Task.assignee == principal.name,
        and_(Task.assignee.is_(None), Task.queue.in_(sorted(principal.roles))),
    )


@router.get("", response_model=list[TaskOut], summary="My tasks and my role queues, overdue first.")
def list_tasks(
    db: Db,
    principal: Annotated[Principal, Depends(require(*WORKERS, "auditor"))],
    status: Annotated[list[str] | None, Query(description="Filter by status.")] = None,
    kind: Annotated[str | None, Query(description="Filter by task kind.")] = None,
    customer_id: Annotated[str | None, Query(description="Filter by customer.")] = None,
    workflow_id: Annotated[str | None, Query(description="Filter by workflow.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[TaskOut]:
    """Open and claimed tasks by default; overdue ones first, then by due time."""
    now = datetime.now(UTC)
    q = select(Task).where(_visible(principal))
    q = q.where(Task.status.in_(status or ["open", "claimed"]))
    if kind:
        q = q.where(Task.kind == kind)
    if customer_id:
        q = q.where(Task.customer_id == customer_id)
    if workflow_id:
        q = q.where(Task.workflow_id == workflow_id)
    overdue_first = case((Task.due_at < now, 0), else_=1)
    # the strategy's priority (key accounts, green channel, fast lane) ranks within each band
    order = (overdue_first, Task.priority.desc(), Task.due_at, Task.task_id)
    q = q.order_by(*order).limit(limit).offset(offset)
    return [task_out(t) for t in db.scalars(q)]


def _load(db: Db, task_id: str, principal: Principal) -> Task:
    task = db.get(Task, task_id)
    if task is None:
        raise ApiError(404, "Not found", f"no task {task_id}")
    if not may_act(principal, task):
        raise ApiError(403, "Forbidden", "this task belongs to someone else")
    return task


@router.get("/{task_id}", response_model=TaskOut, summary="One task.")
def get_task(
    task_id: str, db: Db, principal: Annotated[Principal, Depends(require(*WORKERS, "auditor"))]
) -> TaskOut:
    """A task the caller may see."""
    task = db.get(Task, task_id)
    if task is None or not (principal.has("auditor") or may_act(principal, task)):
        raise ApiError(404 if task is None else 403, "Not found" if task is None else "Forbidden")
    return task_out(task)


@router.post("/{task_id}/claim", response_model=TaskOut, summary="Take a queue task.")
def claim(
    task_id: str,
    request: Request,
    db: Db,
    principal: Annotated[Principal, Depends(require(*WORKERS))],
) -> TaskOut:
    """Assign an open queue task to the caller (idempotent for the same caller)."""
    task = _load(db, task_id, principal)
    if task.status not in ("open", "claimed"):
        raise ApiError(409, "Conflict", f"task is {task.status}")
    if task.assignee != principal.name:
        task.assignee, task.status = principal.name, "claimed"
        audit.append(
            db,
            actor=principal.name,
            action="task.claimed",
            target=f"task:{task_id}",
            customer_id=task.customer_id,
            request_id=request.state.request_id,
        )
        db.commit()
    return task_out(task)


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
    db: Db,
    principal: Annotated[Principal, Depends(require(*WORKERS))],
) -> TaskCompleteOut:
    """422 names the failing path; 409 when completed differently or no longer open; an
    identical retry returns the first outcome."""
    rid = request.state.request_id

    def check() -> Task | TaskCompleteOut:
        task = _load(db, task_id, principal)
        if task.status == "completed":
            if task.result == body.result:
                return TaskCompleteOut(task=task_out(task), workflow_stage="(already completed)")
            _reject(db, task, principal, rid, "already completed with a different result")
            raise ApiError(409, "Conflict", "task already completed with a different result")
        if task.status == "cancelled":
            _reject(db, task, principal, rid, "task cancelled")
            raise ApiError(409, "Conflict", "task was cancelled")
        errors = completion_errors(task.kind, body.result)
        if errors:
            _reject(db, task, principal, rid, "invalid payload")
            raise ApiError(
                422,
                "Invalid completion",
                errors=[
                    {"path": e.split(": ", 1)[0], "message": e.split(": ", 1)[1]} for e in errors
                ],
            )
        # end the read transaction: the workflow's activities need the store while it works
        db.commit()
        return task

    # store work in the thread pool, never holding a store lock while Temporal works
    checked = await run_in_threadpool(check)
    if isinstance(checked, TaskCompleteOut):
        return checked
    task = checked
    handle = app.temporal.get_workflow_handle(task.workflow_id)
    try:
        outcome = await handle.execute_update(
            "complete_task",
            TaskCompletion(task_id, body.result, principal.name),
            id=task_id,
            result_type=TaskCompletionResult,
        )
    except WorkflowUpdateFailedError as err:
        await run_in_threadpool(_reject, db, task, principal, rid, str(err.cause))
        raise ApiError(409, "Conflict", f"the workflow refused: {err.cause}") from err
    except RPCError as err:
        if "not found" in str(err).lower():
            await run_in_threadpool(_reject, db, task, principal, rid, "workflow not running")
            raise ApiError(
                409, "Conflict", "the workflow of this task is no longer running"
            ) from err
        raise ApiError(503, "Temporal unavailable", "nothing was recorded; retry") from err

    def record() -> TaskOut:
        # an unclaimed queue task becomes the completer's, so it stays out of other inboxes
        task.assignee = task.assignee or principal.name
        task.status, task.result = "completed", body.result
        task.completed_by, task.completed_at = principal.name, datetime.now(UTC)
        audit.append(
            db,
            actor=principal.name,
            action="task.completed",
            target=f"task:{task_id}",
            customer_id=task.customer_id,
            request_id=rid,
            policy_version=task.policy_version,
            detail={"workflow_id": task.workflow_id, "result": body.result},
        )
        db.commit()
        return task_out(task)

    return TaskCompleteOut(task=await run_in_threadpool(record), workflow_stage=outcome.stage)


def _reject(db: Db, task: Task, principal: Principal, rid: str, reason: str) -> None:
    """Rejected completions are audited too."""
    db.rollback()
    audit.append(
        db,
        actor=principal.name,
        action="task.completion_rejected",
        target=f"task:{task.task_id}",
        customer_id=task.customer_id,
        request_id=rid,
        detail={"reason": reason},
    )
    db.commit()


class ReassignIn(BaseModel):
    """Where the task goes: a principal, or back to a role queue."""

    assignee: str | None = Field(default=None, description="Principal to hold the task.")
    queue: str | None = Field(default=None, description="Role queue (unassigns the task).")
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
    """Give an open task to someone else or put it back in a queue."""
    task = db.get(Task, task_id)
    if task is None:
        raise ApiError(404, "Not found", f"no task {task_id}")
    if task.status not in ("open", "claimed"):
        raise ApiError(409, "Conflict", f"task is {task.status}")
    if (body.assignee is None) == (body.queue is None):
        raise ApiError(
            422,
            "Invalid request",
            errors=[{"path": "body", "message": "give exactly one of assignee or queue"}],
        )
    known = {p.name: p for p in app.credentials.principals()}
    if body.assignee is not None and body.assignee not in known:
        raise ApiError(
            422,
            "Invalid request",
            errors=[{"path": "body.assignee", "message": f"unknown principal {body.assignee}"}],
        )
    before = {"assignee": task.assignee, "queue": task.queue}
    if body.assignee is not None:
        task.assignee, task.status = body.assignee, "claimed"
    else:
        task.assignee, task.queue, task.status = None, str(body.queue), "open"
    audit.append(
        db,
        actor=principal.name,
        action="task.reassigned",
        target=f"task:{task_id}",
        customer_id=task.customer_id,
        request_id=request.state.request_id,
        detail={
            "before": before,
            "after": {"assignee": task.assignee, "queue": task.queue},
            "reason": body.reason,
        },
    )
    db.commit()
    return task_out(task)
