"""The audit log: search, chain verification and JSONL export (read-only; HTTP shape of
services/audit.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from api.deps import Db, State, require
from api.errors import ERROR_RESPONSES
from services import audit
from store.credentials import Principal

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=ERROR_RESPONSES)
READERS = audit.READERS

Filters = dict[str, Any]


def filters(
    customer_id: Annotated[str | None, Query(description="Entries about this customer.")] = None,
    actor: Annotated[str | None, Query(description="Entries by this principal.")] = None,
    action: Annotated[
        str | None, Query(description="Action or action prefix, e.g. `task.`.")
    ] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time.")] = None,
) -> Filters:
    """Common filters of the audit endpoints."""
    return {
        "customer_id": customer_id,
        "actor": actor,
        "action": action,
        "since": since,
        "until": until,
    }


@router.get("", summary="Search the audit log (newest first).")
def search(
    db: Db,
    f: Annotated[Filters, Depends(filters)],
    _: Annotated[Principal, Depends(require(*READERS))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_seq: Annotated[int | None, Query(description="Page: entries before this seq.")] = None,
) -> list[dict[str, Any]]:
    """Entries matching every given filter."""
    return audit.search(db, f, limit, before_seq)


@router.get("/verify", summary="Recompute the hash chain and check the signed checkpoints.")
def verify(
    db: Db, app: State, _: Annotated[Principal, Depends(require(*READERS))]
) -> dict[str, Any]:
    """ok, the number of entries checked, the first broken entry if any, and the signed
    checkpoints (key outside the database): a chain rewritten and re-hashed by someone with
    database access still verifies on its own, but no longer matches a checkpoint."""
    return audit.verify(db, app.settings.audit_key_path)


@router.get(
    "/export",
    summary="Export matching entries as JSON Lines (oldest first).",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def export(
    app: State,
    f: Annotated[Filters, Depends(filters)],
    _: Annotated[Principal, Depends(require(*READERS))],
) -> StreamingResponse:
    """Streams in pages so memory stays flat however long the log is."""
    return StreamingResponse(audit.export_lines(app.sessions, f), media_type="application/x-ndjson")
