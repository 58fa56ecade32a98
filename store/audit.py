"""The append-only, hash-chained audit log.

Each entry's hash covers its content and the previous entry's hash, so editing or deleting any
entry breaks `verify`. Appends are serialised (SQLite: BEGIN IMMEDIATE; PostgreSQL: a
transaction-scoped advisory lock) and the unique `prev_hash` column refuses a fork.

A single-customer writer (store/db.py `customer_writer`) defers its entries: they are
chained and inserted as the last statements before its commit, under the chain's own lock,
so PostgreSQL serialises such writers only for those few statements, not their whole
transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, event, select, text
from sqlalchemy.orm import Session

from store import db
from store.models import AuditEntry

GENESIS = "0" * 64
_PENDING = "audit_pending"  # session.info: (transaction, entries) deferred to its commit


def digest_text(value: Any) -> str:
    """The canonical JSON text `digest` hashes (ASCII: non-ASCII characters are escaped)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def digest(value: Any) -> str:
    """Stable SHA-256 of a JSON-able value (used for before/after digests)."""
    return hashlib.sha256(digest_text(value).encode()).hexdigest()


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
    """Add one entry to the chain inside the caller's transaction (committed with it).

    In a single-customer writer's transaction the entry is only queued here: it gets its
    time, chain link and `seq` at the commit (`_write_deferred`)."""
    entry = AuditEntry(
        at=datetime.now(UTC),
        actor=actor,
        action=action,
        target=target,
        customer_id=customer_id,
        request_id=request_id,
        policy_version=policy_version,
        detail=detail or {},
    )
    tx = session.get_transaction()
    if tx is not None and session.info.get(db.DEFER_AUDIT) is tx:
        pending: tuple[object, list[AuditEntry]] | None = session.info.get(_PENDING)
        if pending is None or pending[0] is not tx:
            pending = session.info[_PENDING] = (tx, [])
            if not event.contains(session, "before_commit", _write_deferred):
                event.listen(session, "before_commit", _write_deferred)
        pending[1].append(entry)
        return entry
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": db.WRITER_LOCK_KEY})
    _chain(session, [entry])
    return entry


def _chain(session: Session, entries: list[AuditEntry]) -> None:
    """Link `entries` after the chain's last entry and insert them (the caller holds the
    chain: BEGIN IMMEDIATE, or the advisory lock)."""
    prev = session.execute(
        select(AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).scalar_one_or_none()
    for entry in entries:
        entry.prev_hash = prev or GENESIS
        entry.hash = prev = _entry_hash(entry.prev_hash, _fields(entry))
        session.add(entry)
        session.flush()  # one at a time: `seq` follows the chain's order


_APPEND_SQL = text(
    "INSERT INTO audit_log (at, actor, action, target, customer_id, request_id,"
    " policy_version, detail, prev_hash, hash)"
    " SELECT CAST(:at AS timestamptz), :actor, :action, :target, :customer_id, :request_id,"
    " :policy_version, CAST(:detail AS json), p.prev,"
    " encode(sha256(convert_to(CAST(:head AS text) || p.prev || CAST(:tail AS text),"
    " 'UTF8')), 'hex')"
    " FROM (SELECT COALESCE((SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1),"
    " CAST(:genesis AS text)) AS prev) AS p"
    " RETURNING seq, prev_hash, hash"
).bindparams(
    bindparam("at", type_=AuditEntry.__table__.c.at.type),
    bindparam("detail", type_=AuditEntry.__table__.c.detail.type),
)


def _halves(fields: dict[str, Any]) -> tuple[str, str]:
    """The text `_entry_hash` hashes, cut around the previous entry's hash (sorted keys put
    "prev" between policy_version and request_id), so PostgreSQL can complete and hash it."""
    before = digest_text({k: v for k, v in fields.items() if k < "prev"})
    after = digest_text({k: v for k, v in fields.items() if k > "prev"})
    return before[:-1] + ',"prev":"', '",' + after[1:]


def _chain_in_store(session: Session, entries: list[AuditEntry]) -> None:
    """`_chain` for PostgreSQL in one statement per entry: the store reads the last hash
    and computes the new one, so the chain's lock is held for two round trips and COMMIT."""
    for entry in entries:
        head, tail = _halves(_fields(entry))
        row = session.execute(
            _APPEND_SQL,
            {"at": entry.at, "actor": entry.actor, "action": entry.action,
             "target": entry.target, "customer_id": entry.customer_id,
             "request_id": entry.request_id, "policy_version": entry.policy_version,
             "detail": entry.detail, "head": head, "tail": tail, "genesis": GENESIS},
        ).one()  # fmt: skip
        entry.seq, entry.prev_hash, entry.hash = row.seq, row.prev_hash, row.hash


def _write_deferred(session: Session) -> None:
    """before_commit of a single-customer writer: its other changes first (their row locks
    are taken before the chain's lock, never after), then the chain's lock and its entries
    as the transaction's last statements."""
    if session.in_nested_transaction():
        return  # a savepoint: the entries belong to the outer commit
    pending = session.info.pop(_PENDING, None)
    if pending is None or pending[0] is not session.get_transaction() or not pending[1]:
        return
    session.flush()
    now = datetime.now(UTC)  # the time it joins the chain: `at` follows `seq`
    for entry in pending[1]:
        entry.at = now
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": db.CHAIN_LOCK_KEY})
        _chain_in_store(session, pending[1])
    else:
        _chain(session, pending[1])


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
