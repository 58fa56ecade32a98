"""The evidence pack of an arrears ladder's disconnections, for auditors and supervisors
(and the regulator, through them): JSON here, a printable page at /web/evidence/{id}; both
call services/evidence.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from api.deps import State, require
from api.errors import ERROR_RESPONSES
from services import evidence
from store.credentials import Principal

router = APIRouter(prefix="/v1/disconnections", tags=["protections"], responses=ERROR_RESPONSES)
READERS = evidence.READERS


@router.get(
    "/{workflow_id}/evidence",
    summary="Evidence pack: notices, deliveries, re-notice, approvals, filing, checks, order.",
)
async def get_evidence(
    workflow_id: str, app: State, _: Annotated[Principal, Depends(require(*READERS))]
) -> dict[str, Any]:
    """Built from the audit log and the outbox only; read-only."""
    return await run_in_threadpool(evidence.load, app.sessions, workflow_id)
