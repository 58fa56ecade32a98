"""The printable evidence pack of a disconnection (auditor, supervisor; for the regulator).

Same data as `GET /v1/disconnections/{id}/evidence`, through the same service; read-only.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import state
from api.errors import from_domain
from api.web.common import problem_text, render, user
from services import evidence as evidence_service
from services.errors import DomainError

router = APIRouter()


@router.get("/evidence/{workflow_id}")
async def evidence(request: Request, workflow_id: str) -> Response:
    """Notices, deliveries, re-notice, approvals, filing, checks at the moment, the order."""
    sess, _ = user(request, *evidence_service.READERS)
    try:
        pack = await run_in_threadpool(evidence_service.load, state(request).sessions, workflow_id)
    except DomainError as derr:
        err = from_domain(derr)
        return render(request, sess, "message.html", err.status, message=problem_text(err))
    return render(request, sess, "evidence.html", pack=pack)
