"""Policy versions in the store: register a bundle, activate, roll back, load by version."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

import rules
from store import audit
from store.models import PolicyVersion


@lru_cache(maxsize=16)
def _bundle_from_items(items: tuple[tuple[str, str], ...]) -> rules.Bundle:
    return rules.load_bundle_from_texts(dict(items))


def bundle_of(row: PolicyVersion) -> rules.Bundle:
    """The parsed bundle of a stored version (cached: versions are immutable)."""
    return _bundle_from_items(tuple(sorted(row.files.items())))


def register(session: Session, bundle: rules.Bundle, actor: str) -> PolicyVersion:
    """Store `bundle` as a draft unless that content hash is already known."""
    row = session.get(PolicyVersion, bundle.version)
    if row is None:
        row = PolicyVersion(
            version=bundle.version, status="draft", files=dict(bundle.texts), created_by=actor
        )
        session.add(row)
        audit.append(
            session,
            actor=actor,
            action="policy.uploaded",
            target=f"policy:{bundle.version}",
            policy_version=bundle.version,
            detail={"files": sorted(bundle.texts)},
        )
    return row


def activate(session: Session, version: str, actor: str) -> PolicyVersion:
    """Make `version` the active one; the previous active version is retired."""
    row = session.get(PolicyVersion, version)
    if row is None:
        raise KeyError(version)
    previous = active_row(session)
    if previous is not None and previous.version == version:
        return row
    session.execute(
        update(PolicyVersion).where(PolicyVersion.status == "active").values(status="retired")
    )
    row.status = "active"
    row.activated_at = datetime.now(UTC)
    audit.append(
        session,
        actor=actor,
        action="policy.activated",
        target=f"policy:{version}",
        policy_version=version,
        detail={"previous": previous.version if previous else None},
    )
    return row


def active_row(session: Session) -> PolicyVersion | None:
    """The active version's row, if any."""
    return session.scalars(
        select(PolicyVersion).where(PolicyVersion.status == "active")
    ).one_or_none()


def active_bundle(session: Session) -> rules.Bundle:
    """The active bundle; LookupError when no policy was ever activated."""
    row = active_row(session)
    if row is None:
        raise LookupError("no active policy version")
    return bundle_of(row)


def activate_directory(session: Session, directory: Path, actor: str) -> rules.Bundle:
    """Load, register and activate the bundle in `directory` (the dev stack's start-up)."""
    bundle = rules.load_bundle(directory)
    register(session, bundle, actor)
    session.flush()
    activate(session, bundle.version, actor)
    return bundle


_BY_VERSION: dict[str, rules.Bundle] = {}  # versions are content hashes: never change


def bundle_of_version(session: Session, version: str) -> rules.Bundle:
    """The bundle of a stored version (KeyError when unknown); known versions come from the
    cache without reading their files again."""
    found = _BY_VERSION.get(version)
    if found is not None:
        return found
    row = session.get(PolicyVersion, version)
    if row is None:
        raise KeyError(version)
    found = bundle_of(row)
    if len(_BY_VERSION) >= 16:  # bounded like _bundle_from_items
        _BY_VERSION.pop(next(iter(_BY_VERSION)), None)
    _BY_VERSION[version] = found
    return found
