"""Policy versions: upload (errors with file:line:col), impact preview, activate, roll back.

Called by the API routes, the policy pages and the CLI alike; errors are domain errors
(services/errors.py) whose issues carry the file, line and column of the YAML at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import rules
from activities import impact as impact_of
from activities import policy_store
from services.errors import Conflict, Invalid, Issue, NotFound
from store.models import PolicyVersion


@dataclass(frozen=True)
class PolicyView:
    """A stored policy version."""

    version: str
    status: str  # draft, active or retired
    created_by: str
    created_at: str
    activated_at: str | None
    files: list[str]


def view(row: PolicyVersion) -> PolicyView:
    """The service form of a stored version."""
    return PolicyView(
        version=row.version, status=row.status, created_by=row.created_by,
        created_at=row.created_at.isoformat(),
        activated_at=row.activated_at.isoformat() if row.activated_at else None,
        files=sorted(row.files),
    )  # fmt: skip


def _row(session: Session, version: str) -> PolicyVersion:
    row = session.get(PolicyVersion, version)
    if row is None:
        raise NotFound("Not found", f"no policy version {version}")
    return row


def list_versions(session: Session) -> list[PolicyView]:
    """Every stored version, newest first."""
    rows = session.scalars(select(PolicyVersion).order_by(PolicyVersion.created_at.desc()))
    return [view(r) for r in rows]


def upload(session: Session, files: dict[str, str], actor: str) -> PolicyView:
    """Validate and store a bundle as a draft (the same content is the same version);
    commits. Invalid: every issue with `file:line:col: path`."""
    try:
        bundle = rules.load_bundle_from_texts(files)
    except rules.PolicyError as err:
        issues = [
            Issue(f"{i.file}:{i.line}:{i.col}: {i.path}", i.message, "policy",
                  {"file": i.file, "line": i.line, "col": i.col})
            for i in err.issues
        ]  # fmt: skip
        raise Invalid("Invalid policy bundle", f"{len(issues)} problem(s)", issues) from err
    row = policy_store.register(session, bundle, actor)
    session.commit()
    return view(row)


def impact(session: Session, version: str) -> dict[str, Any]:
    """What activating `version` would change in the stored population."""
    return impact_of.impact(session, policy_store.bundle_of(_row(session, version)))


def activate(session: Session, version: str, actor: str) -> PolicyView:
    """Make `version` active (the active one retires); commits."""
    _row(session, version)
    row = policy_store.activate(session, version, actor)
    session.commit()
    return view(row)


def rollback(session: Session, actor: str) -> PolicyView:
    """Re-activate the most recently retired version; commits."""
    previous = session.scalars(
        select(PolicyVersion).where(PolicyVersion.status == "retired")
        .order_by(PolicyVersion.activated_at.desc()).limit(1)
    ).one_or_none()  # fmt: skip
    if previous is None:
        raise Conflict("Conflict", "no earlier version to roll back to")
    return activate(session, previous.version, actor)
