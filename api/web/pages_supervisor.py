"""The supervisor's page: approvals, overdue tasks (reassign), SLA breaches, cancel a process.

Reassign and cancel call the same services as the API (services/tasks.py, workflows.py), so
the checks, the Temporal signal and the audit entries are exactly the API's.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import state
from api.errors import from_domain
from api.web.common import checked_fields, open_tasks, problem_text, redirect, render, user
from services import audit, workflows
from services import tasks as task_service
from services.errors import DomainError
from services.tasks import WORKERS, TaskError
from store.credentials import ROLES

router = APIRouter()
CANCEL_REASON = (3, 500)  # characters, as the API's CancelIn


@router.get("/supervisor")
def supervisor(request: Request) -> Response:
    """Everything a supervisor acts on, one page."""
    sess, p = user(request, "supervisor")
    with state(request).sessions() as db:
        found = open_tasks(db, p, 500)
        breaches = audit.breaches(db)
    approvals = [t for t in found if t.queue == "supervisor" or t.assignee == p.name]
    overdue = [t for t in found if t.overdue]
    people = sorted({q.name for q in state(request).credentials.principals()})
    queues = [r for r in ROLES if r in WORKERS]
    return render(
        request,
        sess,
        "supervisor.html",
        approvals=approvals,
        overdue=overdue,
        breaches=breaches,
        people=people,
        queues=queues,
    )


@router.post("/supervisor/reassign")
async def reassign(request: Request) -> Response:
    """Move a task to a person or back to a queue (reason required, audited)."""
    sess, p = user(request, "supervisor")
    form = await checked_fields(request, sess)
    reason = form.get("reason", "").strip()
    if len(reason) < 3:
        sess.flash("Reason: at least 3 characters.")
        return redirect(request, sess, "/web/supervisor")

    def work() -> None:
        with state(request).sessions() as db:
            task_service.reassign(
                db, p, form.get("task_id", ""), assignee=form.get("assignee") or None,
                queue=form.get("queue") or None, reason=reason[:500],
                known={q.name for q in state(request).credentials.principals()},
                request_id=request.state.request_id,
            )  # fmt: skip

    try:
        await run_in_threadpool(work)  # store work off the event loop
        sess.flash("Task reassigned.")
    except TaskError as failed:
        err = from_domain(failed)
        detail = "; ".join(str(e.get("message")) for e in err.errors)
        sess.flash(problem_text(err) + (f" ({detail})" if detail else ""))
    return redirect(request, sess, "/web/supervisor")


@router.post("/supervisor/cancel")
async def cancel(request: Request) -> Response:
    """Cancel a process with a reason (the API's cancel: a signal plus an audit entry)."""
    sess, p = user(request, "supervisor")
    form = await checked_fields(request, sess)
    reason = form.get("reason", "").strip()
    if not CANCEL_REASON[0] <= len(reason) <= CANCEL_REASON[1]:
        sess.flash("Reason: at least 3 characters.")
        return redirect(request, sess, "/web/supervisor")
    try:
        with state(request).sessions() as db:
            await workflows.cancel(
                state(request).temporal,
                db,
                p.name,
                form.get("workflow_id", "").strip(),
                reason,
                request.state.request_id,
            )
        sess.flash("Cancellation requested.")
    except DomainError as err:
        sess.flash(problem_text(from_domain(err)))
    return redirect(request, sess, "/web/supervisor")
