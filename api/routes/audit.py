"""The audit log: search, chain verification and JSONL export (read-only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import Select, select

from api.deps import Db, State, require
from api.errors import ERROR_RESPONSES
from store import checkpoints
from store.credentials import Principal
from store.models import AuditEntry

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=ERROR_RESPONSES)
READERS = ("auditor", "supervisor")


def entry_json(e: AuditEntry) -> dict[str, Any]:
    """API form of an audit entry."""
    return {
        "seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
        "target": e.target, "customer_id": e.customer_id, "request_id": e.request_id,
        "policy_version": e.policy_version, "detail": e.detail,
        "prev_hash": e.prev_hash, "hash": e.hash,
    }  # fmt: skip


def _query(
    customer_id: str | None, actor: str | None, action: str | None,
    since: datetime | None, until: datetime | None,
) -> Select[AuditEntry]:  # fmt: skip
    q = select(AuditEntry)
    if customer_id:
        q = q.where(AuditEntry.customer_id == customer_id)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if action:
        q = q.where(AuditEntry.action.startswith(action))
    if since:
        q = q.where(AuditEntry.at >= since)
    if until:
        q = q.where(AuditEntry.at < until)
    return q


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
    q = _query(**f)
    if before_seq is not None:
        q = q.where(AuditEntry.seq < before_seq)
    return [entry_json(e) for e in db.scalars(q.order_by(AuditEntry.seq.desc()).limit(limit))]


@router.get("/verify", summary="Recompute the hash chain and check the signed checkpoints.")
def verify(
    db: Db, app: State, _: Annotated[Principal, Depends(require(*READERS))]
) -> dict[str, Any]:
    """ok, the number of entries checked, the first broken entry if any, and the signed
    checkpoints (key outside the database): a chain rewritten and re-hashed by someone with
    database access still verifies on its own, but no longer matches a checkpoint."""
    report = checkpoints.verify(db, checkpoints.load_key(app.settings.audit_key_path))
    chain = report.chain
    return {
        "ok": report.ok,
        "entries": chain.entries,
        "first_bad_seq": chain.first_bad_seq,
        "reason": chain.reason or report.reason,
        "checkpoints": report.checkpoints,
        "last_checkpoint_seq": report.last_checkpoint_seq,
        "bad_checkpoint_seq": report.bad_checkpoint_seq,
    }


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
    q = _query(**f).order_by(AuditEntry.seq)

    def lines() -> Iterator[str]:
        after = 0
        with app.sessions() as s:
            while True:
                page = s.scalars(q.where(AuditEntry.seq > after).limit(1000)).all()
                if not page:
                    return
                for e in page:
                    yield json.dumps(entry_json(e), ensure_ascii=False) + "\n"
                after = page[-1].seq

    return StreamingResponse(lines(), media_type="application/x-ndjson")
