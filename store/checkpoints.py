"""Signed checkpoints of the audit chain: (sequence, head hash) with an HMAC-SHA256 whose key
is a file outside the database (Settings.audit_key_file, created with mode 0600 on first use).

Someone who can write the database can rewrite the chain and recompute every hash (the chain
alone then verifies), but cannot sign: the checkpoint taken before the rewrite no longer
matches the entry at its sequence, and `verify` says which. Checkpoints are written by the
API every `audit_checkpoint_seconds` and by `segflow audit checkpoint`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import audit
from store.files import write_private
from store.models import AuditCheckpoint, AuditEntry

MIN_KEY_BYTES = 32


def load_key(path: Path) -> bytes:
    """The signing key; created (random, 0600, atomically) when the file does not exist.
    A key shorter than MIN_KEY_BYTES is refused."""
    if not path.exists():
        write_private(path, secrets.token_hex(32), exclusive=True)
    key = path.read_bytes().strip()
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"{path}: audit key shorter than {MIN_KEY_BYTES} bytes")
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise ValueError(f"{path}: audit key readable by others (chmod 600)")
    return key


def key_id(key: bytes) -> str:
    """A short public name of the key (so a rotated key is recognised)."""
    return hashlib.sha256(b"segflow-audit-key-id\0" + key).hexdigest()[:16]


def _sign(key: bytes, seq: int, head: str) -> str:
    return hmac.new(key, f"segflow-audit:{seq}:{head}".encode(), hashlib.sha256).hexdigest()


def take(session: Session, key: bytes) -> AuditCheckpoint | None:
    """Sign the current head (None when the log is empty or the head is signed already)."""
    head = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    if head is None or session.get(AuditCheckpoint, head.seq) is not None:
        return None
    point = AuditCheckpoint(seq=head.seq, head_hash=head.hash, key_id=key_id(key),
                            signature=_sign(key, head.seq, head.hash))  # fmt: skip
    session.add(point)
    session.flush()
    return point


@dataclass(frozen=True)
class Report:
    """The chain's verification plus the checkpoints'."""

    chain: audit.Verification
    checkpoints: int
    last_checkpoint_seq: int | None
    bad_checkpoint_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """The chain links and every checkpoint matches it."""
        return self.chain.ok and self.bad_checkpoint_seq is None


def verify(session: Session, key: bytes) -> Report:
    """Walk the chain, then check every checkpoint's signature and its entry's hash."""
    chain = audit.verify(session)
    count, last = 0, None
    kid = key_id(key)
    for point in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)):
        count, last = count + 1, point.seq
        if point.key_id != kid:
            continue  # signed with an earlier key: not checkable with this one
        if not hmac.compare_digest(point.signature, _sign(key, point.seq, point.head_hash)):
            return Report(chain, count, last, point.seq, "checkpoint signature does not match")
        entry_hash = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == point.seq))
        if entry_hash != point.head_hash:
            return Report(chain, count, last, point.seq, "the chain was rewritten after this "
                          "checkpoint was signed")  # fmt: skip
    return Report(chain, count, last)
