"""The printable evidence pack of a disconnection (auditor, supervisor; for the regulator).

Same data as `GET /v1/disconnections/{id}/evidence`, through the same loader; read-only.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import state
from api.errors import ApiError
from api.routes import evidence as evidence_api
from api.web.common import problem_text, render, user

router = APIRouter()


@router.get("/evidence/{workflow_id}")
async def evidence(request: Request, workflow_id: str) -> Response:
    """Notices, deliveries, re-notice, approvals, filing, checks at the moment, the order."""
    sess, _ = user(request, *evidence_api.READERS)
    try:
        pack = await run_in_threadpool(evidence_api.load, state(request), workflow_id)
    except ApiError as err:
        return render(request, sess, "message.html", err.status, message=problem_text(err))
    return render(request, sess, "evidence.html", pack=pack)
