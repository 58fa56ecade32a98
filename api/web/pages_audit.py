"""The auditor's pages: find a customer (segments, explanation, policy version, workflows,
tasks, audit entries), a workflow's timeline, the chain's verification, JSONL export.

Read-only; each page calls the same services as the API (services/audit.py, workflows.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.deps import state
from api.errors import from_domain
from api.schemas import task_out
from api.web.common import problem_text, redirect, render, user
from services import access, audit, customers, workflows
from services.errors import DomainError, NotFound
from store.models import Task

router = APIRouter()
READERS = audit.READERS


def _filters(customer_id: str | None = None) -> dict[str, Any]:
    return {"customer_id": customer_id, "actor": None, "action": None, "since": None, "until": None}


@router.get("/audit")
def audit_home(request: Request, customer_id: str = "") -> Response:
    """Customer search, chain verification, the latest entries, export."""
    sess, _ = user(request, *READERS)
    if customer_id.strip():
        return redirect(request, sess, f"/web/audit/customers/{customer_id.strip()}")
    with state(request).sessions() as db:
        verification = audit.verify(db, state(request).settings.audit_key_path)
        recent = audit.search(db, _filters(), limit=25)
    return render(request, sess, "audit.html", verification=verification, recent=recent)


@router.get("/audit/export")
def export(request: Request, customer_id: str | None = None) -> Response:
    """The API's JSONL export, reachable with the session cookie."""
    user(request, *READERS)
    lines = audit.export_lines(state(request).sessions, _filters(customer_id or None))
    return StreamingResponse(
        lines,
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="segflow-audit.jsonl"'},
    )


@router.get("/audit/customers/{customer_id}")
async def customer(request: Request, customer_id: str) -> Response:
    """Segments with the explanation and policy version; workflows; tasks; audit entries."""
    sess, p = user(request, *READERS)

    def load() -> tuple[Any, list[dict[str, Any]], list[Any]]:
        with state(request).sessions() as db:
            if not access.may_read_customer(db, p, customer_id):
                raise NotFound("Not found", f"no customer {customer_id}")
            found = customers.get(db, customer_id)
            entries = audit.search(db, _filters(customer_id), limit=100)
            q = select(Task).where(Task.customer_id == customer_id)
            tasks = [task_out(t) for t in db.scalars(q.order_by(Task.created_at.desc()))]
            return found, entries, tasks

    try:
        # store reads in the thread pool: a busy SQLite lock must not stall the event loop
        found, entries, tasks = await run_in_threadpool(load)
    except DomainError as derr:
        err = from_domain(derr)
        return render(request, sess, "message.html", err.status, message=problem_text(err))
    try:
        flows = await workflows.list_workflows(state(request).temporal, customer_id, limit=100)
        flows_error = None
    except Exception as err:  # Temporal away: the rest of the page is still useful
        flows, flows_error = [], str(err)
    known = {f["workflow_id"] for f in flows}
    # task rows name workflows too (visibility may lag a fresh start by a moment)
    flows += [
        {"workflow_id": w, "type": "", "status": "", "started_at": None}
        for w in sorted({t.workflow_id for t in tasks} - known)
    ]
    return render(
        request,
        sess,
        "audit_customer.html",
        customer=found,
        flows=flows,
        flows_error=flows_error,
        tasks=tasks,
        entries=entries,
    )


@router.get("/audit/workflows/{workflow_id}")
async def timeline(request: Request, workflow_id: str) -> Response:
    """Who did what, when: the workflow's history merged with the audit log."""
    sess, p = user(request, *READERS)
    try:
        with state(request).sessions() as db:
            history = await workflows.history(state(request).temporal, db, p, workflow_id)
    except DomainError as derr:
        err = from_domain(derr)
        return render(request, sess, "message.html", err.status, message=problem_text(err))
    return render(request, sess, "timeline.html", history=history)
