"""Sign-in, the inbox (phone first) and the task page with its form generated from the
kind's completion model (workflows/task_kinds.py).

The inbox and the task page call the same task services as the API (`services.tasks`), so the
visibility rule (an inspector never sees another inspector's task), the completion through
the Temporal Update (task id = update id) and the audit entries are the API's, unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from temporalio.common import SearchAttributeKey

from activities import customers as customer_store
from api.deps import state
from api.errors import from_domain
from api.schemas import TaskOut, task_out
from api.web import forms, session
from api.web.common import checked_fields, open_tasks, problem_text, redirect, render, user
from api.web.i18n import N_
from api.web.pages_strategies import OFFER_TEXT
from services import offers
from services import tasks as task_service
from services.tasks import WORKERS, TaskError
from store.credentials import Principal
from store.models import Assignment, Customer, Task
from workflows.attributes import SA_STAGE
from workflows.task_kinds import schema_for

router = APIRouter()
STAGE = SearchAttributeKey.for_keyword(SA_STAGE)
STAGE_POLLS = 12  # up to 3 s for the workflow to reach its next stage


def _safe_next(target: str | None) -> str:
    """Only local paths (no open redirect to another site)."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or urlsplit(target).netloc
    ):
        return "/web/"
    return target


@router.get("/")
def home(request: Request) -> Response:
    """The first page a role needs."""
    sess, p = user(request)
    if p.has("agent", "inspector", "supervisor"):
        target = "/web/inbox"
    elif p.has("policy_owner"):
        target = "/web/policies"
    else:
        target = "/web/audit"
    return redirect(request, sess, target)


@router.get("/signin")
def signin_page(request: Request, next: str = "/web/") -> Response:
    """The sign-in form (token, optionally the principal's name)."""
    sess = session.load(request)
    return render(request, sess, "signin.html", next=_safe_next(next), error=None)


@router.post("/signin")
async def signin(request: Request) -> Response:
    """Check the token against the credential store and bind the session to its principal."""
    sess = session.load(request)
    form = await checked_fields(request, sess)
    token = form.get("token", "").strip()
    name = form.get("principal", "").strip()
    principal = state(request).credentials.authenticate(token) if token else None
    target = _safe_next(form.get("next"))
    if principal is None or (name and name != principal.name):
        error = N_("Unknown token, or it does not belong to that principal.")
        return render(request, sess, "signin.html", 401, next=target, error=error)
    sess.sign_in(principal, token)
    return redirect(request, sess, target)


@router.post("/signout")
async def signout(request: Request) -> Response:
    """Forget the principal (CSRF-checked so another site cannot sign you out)."""
    sess = session.load(request)
    await checked_fields(request, sess)
    sid = session.sign_out(request, sess)
    if sid:
        await run_in_threadpool(session.record_sign_out, request, sid)
    return redirect(request, sess, "/web/signin")


@router.get("/inbox")
def inbox(request: Request) -> Response:
    """My tasks and my role queues, overdue first (the API's list and its visibility)."""
    sess, p = user(request, *WORKERS)
    with state(request).sessions() as db:
        found = open_tasks(db, p, 200)
    mine = [t for t in found if t.assignee == p.name]
    queues = [t for t in found if t.assignee != p.name]
    return render(request, sess, "inbox.html", mine=mine, queues=queues)


def _customer(db: Any, customer_id: str) -> dict[str, Any]:
    row = db.get(Customer, customer_id)
    assignment = db.get(Assignment, customer_id)
    record = customer_store.record_of(row) if row else None
    return {
        "record": record,
        "assignment": customer_store.assignment_json(assignment) if assignment else None,
        # what the strategy asks the person serving the customer to offer (services/offers.py)
        "offers": [
            {**o, "text": OFFER_TEXT[o["key"]]}
            for o in (offers.offers(assignment.actions or {}, record) if assignment else [])
        ],
    }


async def _stage(request: Request, workflow_id: str) -> tuple[str, str]:
    """The workflow's status and Stage search attribute (blank when Temporal is away)."""
    try:
        desc = await state(request).temporal.get_workflow_handle(workflow_id).describe()
    except Exception:  # the page still works without it
        return "", ""
    status = desc.status.name if desc.status else ""
    return status, desc.typed_search_attributes.get(STAGE) or ""


def _open_tasks_of(db: Any, workflow_id: str, except_id: str) -> list[Task]:
    q = select(Task).where(Task.workflow_id == workflow_id, Task.status.in_(["open", "claimed"]))
    return [t for t in db.scalars(q.order_by(Task.due_at)) if t.task_id != except_id]


async def _task_page(
    request: Request,
    task_id: str,
    status_code: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    rows: dict[str, int] | None = None,
    problem: str | None = None,
) -> Response:
    sess, p = user(request, *WORKERS)

    def load() -> tuple[TaskOut, dict[str, Any], list[TaskOut]]:
        with state(request).sessions() as db:
            task = task_out(task_service.get(db, p, task_id))
            following = [
                task_out(t)
                for t in _open_tasks_of(db, task.workflow_id, task_id)
                if task_service.may_act(p, t)
            ]
            return task, _customer(db, task.customer_id), following

    try:
        # store reads in the thread pool: a busy SQLite lock must not stall the event loop
        task, customer, following = await run_in_threadpool(load)
    except TaskError as err:
        failed = from_domain(err)
        return render(request, sess, "message.html", failed.status, message=problem_text(failed))
    wf_status, stage = await _stage(request, task.workflow_id)
    schema = schema_for(task.kind)
    tree = forms.fields(schema, values or task.result or {}, errors, task.context, rows)
    errors = errors or {}
    loose = [m for path, msgs in errors.items() if path not in forms.placed(tree) for m in msgs]
    return render(
        request,
        sess,
        "task.html",
        status_code,
        task=task,
        customer=customer,
        tree=tree,
        loose=loose,
        problem=problem,
        has_errors=bool(errors),
        wf_status=wf_status,
        stage=stage,
        following=following,
        editable=task.status in ("open", "claimed"),
    )


@router.get("/tasks/{task_id}")
async def task_page(request: Request, task_id: str) -> Response:
    """Customer summary, process step and the completion form."""
    return await _task_page(request, task_id)


@router.post("/tasks/{task_id}/claim")
async def claim(request: Request, task_id: str) -> Response:
    """Take a queue task (the API's claim)."""
    sess, p = user(request, *WORKERS)
    await checked_fields(request, sess)

    def work() -> None:
        with state(request).sessions() as db:
            task_service.claim(db, p, task_id, request.state.request_id)

    try:
        await run_in_threadpool(work)  # store work off the event loop
    except TaskError as err:
        sess.flash(problem_text(from_domain(err)))
    return redirect(request, sess, f"/web/tasks/{task_id}")


def _kind_of(request: Request, task_id: str) -> tuple[str, str]:
    with state(request).sessions() as db:
        row = db.get(Task, task_id)
        return (row.kind, row.workflow_id) if row else ("", "")


@router.post("/tasks/{task_id}")
async def complete(request: Request, task_id: str) -> Response:
    """Complete through the API's function; the completion model's issues come back beside
    their fields."""
    sess, p = user(request, *WORKERS)
    form = await checked_fields(request, sess)
    kind, workflow_id = await run_in_threadpool(_kind_of, request, task_id)
    if not kind:
        return await _task_page(request, task_id)
    schema = schema_for(kind)
    result = forms.parse(schema, form)
    rows = forms.row_counts(form)
    action = form.get("_action", "")
    if action.startswith("add:"):
        path = action.removeprefix("add:")
        rows[path] = rows.get(path, 1) + 1
        return await _task_page(request, task_id, values=result, rows=rows)
    _, before = await _stage(request, workflow_id)
    app = state(request)
    try:
        out = await task_service.complete(
            app.sessions, app.temporal, p, task_id, result, request.state.request_id
        )
    except TaskError as refused:
        # the service's issues (path, message, code) go beside their fields by path
        err = from_domain(refused)
        if err.status == 422:
            return await _task_page(
                request, task_id, 422, result, forms.error_map(err.errors), rows
            )
        return await _task_page(request, task_id, err.status, result, None, rows, problem_text(err))
    sess.data["done"] = {"task": task_id, "stage": out.stage, "before": before}
    return redirect(request, sess, f"/web/tasks/{task_id}/done")


def _following(
    request: Request, p: Principal, workflow_id: str, task_id: str
) -> list[tuple[TaskOut, bool]]:
    """The process's other open tasks; those I may not act on are listed by title and queue
    only (no details, no link)."""
    with state(request).sessions() as db:
        return [
            (task_out(t), task_service.may_act(p, t))
            for t in _open_tasks_of(db, workflow_id, task_id)
        ]


@router.get("/tasks/{task_id}/done")
async def done(request: Request, task_id: str) -> Response:
    """What happens next: the workflow's stage and the process's next tasks."""
    sess, p = user(request, *WORKERS)
    info = sess.data.pop("done", None)
    info = info if isinstance(info, dict) else {}
    returned, before = str(info.get("stage", "")), str(info.get("before", ""))

    def load() -> TaskOut | None:
        with state(request).sessions() as db:
            row = db.get(Task, task_id)
            if row is None or not task_service.may_see(p, row):
                return None
            return task_out(row)

    task = await run_in_threadpool(load)
    if task is None:
        return render(request, sess, "message.html", 404, message="Not found")
    following = await run_in_threadpool(_following, request, p, task.workflow_id, task_id)
    wf_status, stage = await _stage(request, task.workflow_id)
    for _ in range(STAGE_POLLS):
        # the Update returns once the workflow took the result in; the next stage follows a
        # moment later, and that is what the person wants to see
        if (stage and stage != before) or following or wf_status not in ("RUNNING", ""):
            break
        await asyncio.sleep(0.25)
        following = await run_in_threadpool(_following, request, p, task.workflow_id, task_id)
        wf_status, stage = await _stage(request, task.workflow_id)
    return render(
        request,
        sess,
        "done.html",
        task=task,
        returned_stage=returned,
        stage=stage,
        wf_status=wf_status,
        following=following,
        me=p,
    )
