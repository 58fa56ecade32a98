"""The append-only, hash-chained audit log.

Each entry's hash covers its content and the previous entry's hash, so editing or deleting any
entry breaks `verify`. Appends are serialised (SQLite: BEGIN IMMEDIATE; PostgreSQL: a
transaction-scoped advisory lock) and the unique `prev_hash` column refuses a fork.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from store.models import AuditEntry

GENESIS = "0" * 64
_LOCK_KEY = 0x5E6F10  # advisory lock id of the chain


def digest(value: Any) -> str:
    """Stable SHA-256 of a JSON-able value (used for before/after digests)."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()


def _entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return digest({"prev": prev_hash, **fields})


def _fields(entry: AuditEntry) -> dict[str, Any]:
    # always hashed in UTC: a PostgreSQL session in another time zone reads the same instant
    # back with another offset, which must not change the hash
    at = entry.at.astimezone(UTC) if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
    return {
        "at": at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "customer_id": entry.customer_id,
        "request_id": entry.request_id,
        "policy_version": entry.policy_version,
        "detail": entry.detail,
    }


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str,
    customer_id: str | None = None,
    request_id: str | None = None,
    policy_version: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry to the chain inside the caller's transaction (committed with it)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    last = session.execute(
        select(AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).scalar_one_or_none()
    entry = AuditEntry(
        at=datetime.now(UTC),
        actor=actor,
        action=action,
        target=target,
        customer_id=customer_id,
        request_id=request_id,
        policy_version=policy_version,
        detail=detail or {},
        prev_hash=last or GENESIS,
    )
    entry.hash = _entry_hash(entry.prev_hash, _fields(entry))
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class Verification:
    """Outcome of walking the chain."""

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    reason: str | None = None


def verify(session: Session, batch: int = 5000) -> Verification:
    """Recompute every hash in order; report the first entry that does not match."""
    prev, count, after = GENESIS, 0, 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            return Verification(ok=True, entries=count)
        for entry in rows:
            if entry.prev_hash != prev:
                return Verification(False, count, entry.seq, "prev_hash does not link")
            if _entry_hash(prev, _fields(entry)) != entry.hash:
                return Verification(False, count, entry.seq, "content does not match its hash")
            prev, count, after = entry.hash, count + 1, entry.seq
