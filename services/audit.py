"""Audit log queries: search, chain verification, JSONL export, SLA breaches (read-only).

The API's /v1/audit routes and the auditor's and supervisor's pages call these; the store's
audit module (store/audit.py) writes the chain, this one only reads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, sessionmaker

from store import checkpoints
from store.models import AuditEntry

READERS = ("auditor", "supervisor")
BREACH_ACTIONS = ("task.escalated",)  # plus any action naming an SLA breach
EXPORT_PAGE = 1000


def entry_json(e: AuditEntry) -> dict[str, Any]:
    """API form of an audit entry."""
    return {
        "seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
        "target": e.target, "customer_id": e.customer_id, "request_id": e.request_id,
        "policy_version": e.policy_version, "detail": e.detail,
        "prev_hash": e.prev_hash, "hash": e.hash,
    }  # fmt: skip


def query(
    customer_id: str | None = None, actor: str | None = None, action: str | None = None,
    since: datetime | None = None, until: datetime | None = None,
) -> Select[AuditEntry]:  # fmt: skip
    """Entries matching every given filter (`action` also matches as a prefix)."""
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


def search(
    db: Session, filters: Mapping[str, Any], limit: int = 100, before_seq: int | None = None
) -> list[dict[str, Any]]:
    """Newest first; `before_seq` pages backwards."""
    q = query(**filters)
    if before_seq is not None:
        q = q.where(AuditEntry.seq < before_seq)
    return [entry_json(e) for e in db.scalars(q.order_by(AuditEntry.seq.desc()).limit(limit))]


def verify(db: Session, key_path: Path) -> dict[str, Any]:
    """The chain recomputed and the signed checkpoints checked (key outside the database)."""
    report = checkpoints.verify(db, checkpoints.load_key(key_path))
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


def export_lines(sessions: sessionmaker[Session], filters: Mapping[str, Any]) -> Iterator[str]:
    """Matching entries as JSON Lines, oldest first, read in pages so memory stays flat."""
    q = query(**filters).order_by(AuditEntry.seq)
    after = 0
    with sessions() as s:
        while True:
            page = s.scalars(q.where(AuditEntry.seq > after).limit(EXPORT_PAGE)).all()
            if not page:
                return
            for e in page:
                yield json.dumps(entry_json(e), ensure_ascii=False) + "\n"
            after = page[-1].seq


def breaches(db: Session, limit: int = 50) -> list[dict[str, Any]]:
    """The latest escalations and SLA breaches, newest first."""
    q = (
        select(AuditEntry)
        .where(
            or_(
                AuditEntry.action.in_(BREACH_ACTIONS),
                AuditEntry.action.contains("sla_breach"),
                AuditEntry.action.contains("escalat"),
            )
        )
        .order_by(AuditEntry.seq.desc())
        .limit(limit)
    )
    return [entry_json(e) for e in db.scalars(q)]
