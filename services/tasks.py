"""Human tasks: who sees and acts on which task, claim, complete, reassign.

Every write is a conditional update (`UPDATE ... WHERE status IN (open, claimed) AND ...`), so
two concurrent claims cannot both win and a reassignment cannot reopen a completed task: the
row's state at write time decides, not what was read a moment before. A completion goes to
the workflow as a Temporal Update whose id is the task id; Temporal answers a second Update
with that id with the FIRST one's outcome, so the outcome's result and actor are compared with
the request before anything is recorded (two different completions: one wins, the other is a
409, and the store and the workflow agree).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from services.errors import CODE_STATUS, UNKNOWN_CODE, DomainError, Issue
from store import audit
from store.credentials import Principal
from store.models import Task
from workflows.task_kinds import completion_errors
from workflows.task_payloads import TaskCompletion, TaskCompletionResult

WORKERS = ("agent", "inspector", "supervisor")
OVERSEERS = ("supervisor",)
LIVE = ("open", "claimed")


class TaskError(DomainError):
    """A refused task operation: code (not_found, forbidden, conflict, invalid, unavailable),
    a message and issues (path, message, code); a DomainError, so the API and the pages map
    it like any other (status and title by code)."""

    def __init__(self, code: str, message: str, issues: list[Issue] | None = None) -> None:
        self.status, title = CODE_STATUS.get(code, UNKNOWN_CODE)
        super().__init__(title, message, issues)
        self.code, self.message = code, message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def completion_issues(kind: str, result: dict[str, Any]) -> list[Issue]:
    """What the kind's completion model (workflows/task_kinds.py) refuses, as issues whose
    path is the JSON pointer of the value inside `result` without the leading slash."""
    return [Issue(i.path or "(root)", i.message, i.code) for i in completion_errors(kind, result)]


def may_act(principal: Principal, task: Task) -> bool:
    """Own task, or unclaimed in one of my role queues; supervisors act on any."""
    if principal.has(*OVERSEERS):
        return True
    if task.assignee is not None:
        return task.assignee == principal.name
    return task.queue in principal.roles


def may_see(principal: Principal, task: Task) -> bool:
    """Auditors read every task; others the ones they may act on or completed."""
    return (
        principal.has("auditor")
        or may_act(principal, task)
        or task.completed_by == (principal.name)
    )


def visible(principal: Principal) -> ColumnElement[bool]:
    """SQL form of `may_see` (for lists)."""
    if principal.has(*OVERSEERS, "auditor"):
        return Task.task_id.is_not(None)
    return or_(
        Task.assignee == principal.name,
        Task.completed_by == principal.name,
        and_(Task.assignee.is_(None), Task.queue.in_(sorted(principal.roles))),
    )


def list_tasks(
    db: Session,
    principal: Principal,
    *,
    status: list[str] | None = None,
    kind: str | None = None,
    customer_id: str | None = None,
    workflow_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Task]:
    """Open and claimed tasks by default; overdue ones first, then by due time."""
    now = datetime.now(UTC)
    q = select(Task).where(visible(principal), Task.status.in_(status or list(LIVE)))
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
    return list(db.scalars(q))


def get(db: Session, principal: Principal, task_id: str) -> Task:
    """A task the caller may see."""
    task = db.get(Task, task_id)
    if task is None:
        raise TaskError("not_found", f"no task {task_id}")
    if not may_see(principal, task):
        db.rollback()
        raise TaskError("forbidden", "this task belongs to someone else")
    return task


def _actionable(db: Session, principal: Principal, task_id: str) -> Task:
    task = db.get(Task, task_id)
    if task is None or not may_act(principal, task):
        db.rollback()  # no transaction (SQLite: no write lock) left open by a refusal
        if task is None:
            raise TaskError("not_found", f"no task {task_id}")
        raise TaskError("forbidden", "this task belongs to someone else")
    return task


def claim(db: Session, principal: Principal, task_id: str, request_id: str) -> Task:
    """Assign an open queue task to the caller (idempotent for the same caller)."""
    task = _actionable(db, principal, task_id)
    who: ColumnElement[bool] = Task.status.in_(LIVE)
    if not principal.has(*OVERSEERS):
        # the row must still be unclaimed in one of my queues when the write lands
        who = and_(who, Task.assignee.is_(None), Task.queue.in_(sorted(principal.roles)))
    won = db.execute(
        update(Task)
        .where(
            Task.task_id == task_id,
            who,
            or_(Task.assignee.is_(None), Task.assignee != principal.name),
        )
        .values(assignee=principal.name, status="claimed")
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if won:
        audit.append(
            db, actor=principal.name, action="task.claimed", target=f"task:{task_id}",
            customer_id=task.customer_id, request_id=request_id,
        )  # fmt: skip
        db.commit()
        return _settled(db, task)
    db.rollback()
    task = _settled(db, task)
    if task.status in LIVE and task.assignee == principal.name:
        return task  # already mine: a retry
    if task.status not in LIVE:
        raise TaskError("conflict", f"task is {task.status}")
    raise TaskError("conflict", f"task already claimed by {task.assignee}")


def _settled(db: Session, task: Task) -> Task:
    """The row as stored now, detached, with no transaction left open: SQLite transactions
    are BEGIN IMMEDIATE, and one left open until the request's teardown holds the write lock
    while every other request waits for it."""
    db.refresh(task)
    db.expunge(task)
    db.commit()
    return task


def reassign(
    db: Session,
    principal: Principal,
    task_id: str,
    *,
    assignee: str | None,
    queue: str | None,
    reason: str,
    known: set[str],
    request_id: str,
) -> Task:
    """Give a live task to someone else or put it back in a queue (supervisor)."""
    if (assignee is None) == (queue is None):
        message = "give exactly one of assignee or queue"
        raise TaskError("invalid", message, [Issue("body", message, "invalid")])
    if assignee is not None and assignee not in known:
        message = f"unknown principal {assignee}"
        raise TaskError("invalid", message, [Issue("body.assignee", message, "unknown")])
    # FOR UPDATE: the "before" we audit is the row we change (PostgreSQL; SQLite transactions
    # are BEGIN IMMEDIATE and serialise anyway)
    task = db.scalars(select(Task).where(Task.task_id == task_id).with_for_update()).first()
    if task is None:
        db.rollback()
        raise TaskError("not_found", f"no task {task_id}")
    before = {"assignee": task.assignee, "queue": task.queue}
    values: dict[str, Any] = (
        {"assignee": assignee, "status": "claimed"}
        if assignee is not None
        else {"assignee": None, "queue": str(queue), "status": "open"}
    )
    done = db.execute(
        update(Task).where(Task.task_id == task_id, Task.status.in_(LIVE)).values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]  # fmt: skip
    if not done:
        db.rollback()
        raise TaskError("conflict", f"task is {_settled(db, task).status}")
    after = {"assignee": values["assignee"], "queue": values.get("queue", task.queue)}
    audit.append(
        db, actor=principal.name, action="task.reassigned", target=f"task:{task_id}",
        customer_id=task.customer_id, request_id=request_id,
        detail={"before": before, "after": after, "reason": reason},
    )  # fmt: skip
    db.commit()
    return _settled(db, task)


@dataclass
class Completed:
    """A recorded completion (or the identical earlier one) and the workflow's stage."""

    task: Task
    stage: str


async def complete(
    sessions: sessionmaker[Session],
    temporal: Client,
    principal: Principal,
    task_id: str,
    result: dict[str, Any],
    request_id: str,
) -> Completed:
    """Validate, deliver as a Temporal Update (id = task id), check the outcome is this
    request's, record. Store work runs in threads; no transaction spans the Update."""
    checked = await asyncio.to_thread(_check, sessions, principal, task_id, result, request_id)
    if isinstance(checked, Completed):
        return checked
    task = checked
    try:
        outcome = await temporal.get_workflow_handle(task.workflow_id).execute_update(
            "complete_task", TaskCompletion(task_id, result, principal.name),
            id=task_id, result_type=TaskCompletionResult,
        )  # fmt: skip
    except WorkflowUpdateFailedError as err:
        await asyncio.to_thread(_reject, sessions, task, principal, request_id, str(err.cause))
        raise TaskError("conflict", f"the workflow refused: {err.cause}") from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:  # no such run, or it has ended
            await asyncio.to_thread(_reject, sessions, task, principal, request_id, "not running")
            raise TaskError("conflict", "the workflow of this task is no longer running") from err
        raise TaskError("unavailable", "Temporal unavailable; nothing was recorded") from err
    if outcome.actor and (outcome.actor, outcome.result) != (principal.name, result):
        # the Update id was taken by another completion first: that one is the truth
        await asyncio.to_thread(
            _reject, sessions, task, principal, request_id, "completed concurrently"
        )
        raise TaskError("conflict", f"task already completed differently by {outcome.actor}")
    recorded = await asyncio.to_thread(_record, sessions, task, principal, result, request_id)
    return Completed(recorded, outcome.stage)


def _check(
    sessions: sessionmaker[Session], principal: Principal, task_id: str,
    result: dict[str, Any], rid: str,
) -> Task | Completed:  # fmt: skip
    with sessions() as db:
        task = _actionable_or_done(db, principal, task_id)
        db.expunge(task)
    # every refusal is audited, in a session of its own once the read is over (SQLite takes
    # the write lock at the first statement of a transaction)
    refusal: tuple[str, TaskError] | None = None
    if task.status == "completed":
        if task.result == result and task.completed_by == principal.name:
            return Completed(task, "(already completed)")
        why = "already completed with a different result"
        refusal = (why, TaskError("conflict", f"task {why}"))
    elif task.status == "cancelled":
        refusal = ("task cancelled", TaskError("conflict", "task was cancelled"))
    elif issues := completion_issues(task.kind, result):
        refusal = ("invalid payload", TaskError("invalid", "Invalid completion", issues))
    if refusal is not None:
        _reject(sessions, task, principal, rid, refusal[0])
        raise refusal[1]
    return task


def _actionable_or_done(db: Session, principal: Principal, task_id: str) -> Task:
    task = db.get(Task, task_id)
    if task is None:
        raise TaskError("not_found", f"no task {task_id}")
    if not (may_act(principal, task) or task.completed_by == principal.name):
        raise TaskError("forbidden", "this task belongs to someone else")
    return task


def _record(
    sessions: sessionmaker[Session], task: Task, principal: Principal,
    result: dict[str, Any], rid: str,
) -> Task:  # fmt: skip
    with sessions() as db:
        # the workflow's close_task activity has normally written the row already; this makes
        # sure it holds this completion (never another one) and keeps the completer as holder
        db.execute(
            update(Task)
            .where(Task.task_id == task.task_id,
                   or_(Task.status.in_(LIVE), Task.completed_by == principal.name))
            .values(status="completed", result=result, completed_by=principal.name,
                    completed_at=datetime.now(UTC),
                    assignee=case((Task.assignee.is_(None), principal.name),
                                  else_=Task.assignee))
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        audit.append(
            db, actor=principal.name, action="task.completed", target=f"task:{task.task_id}",
            customer_id=task.customer_id, request_id=rid, policy_version=task.policy_version,
            detail={"workflow_id": task.workflow_id, "result_digest": audit.digest(result)},
        )  # fmt: skip
        db.commit()
        row = db.get(Task, task.task_id)
        assert row is not None  # tasks are never deleted
        db.expunge(row)
        return row


def _reject(
    sessions: sessionmaker[Session], task: Task, principal: Principal, rid: str, reason: str
) -> None:
    """Rejected completions are audited too."""
    with sessions() as db:
        audit.append(
            db, actor=principal.name, action="task.completion_rejected",
            target=f"task:{task.task_id}", customer_id=task.customer_id, request_id=rid,
            detail={"reason": reason},
        )  # fmt: skip
        db.commit()
