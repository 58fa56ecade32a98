"""Policy diff between two stored versions (the meaning-level diff of `rules.diff`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from activities import policy_store
from rules.diff import diff_bundles


class UnknownVersion(LookupError):
    """A policy version that is not in the store (`path` names the parameter)."""

    def __init__(self, path: str, version: str) -> None:
        super().__init__(f"no policy version {version}")
        self.path, self.version = path, version


def resolve(session: Session, version: str | None, path: str) -> str:
    """`version`, or the active version when None; UnknownVersion when neither exists."""
    if version is None:
        row = policy_store.active_row(session)
        if row is None:
            raise UnknownVersion(path, "(active)")
        return row.version
    try:
        policy_store.bundle_of_version(session, version)
    except KeyError:
        raise UnknownVersion(path, version) from None
    return version


def diff_versions(session: Session, old: str | None, new: str) -> dict[str, Any]:
    """Changes from `old` (default: the active version) to `new`, each with file:line on both
    sides; counts by meaning for a summary."""
    old_v = resolve(session, old, "against")
    new_v = resolve(session, new, "version")
    changes = diff_bundles(
        policy_store.bundle_of_version(session, old_v),
        policy_store.bundle_of_version(session, new_v),
    )
    counts: dict[str, int] = {}
    for c in changes:
        counts[c.meaning] = counts.get(c.meaning, 0) + 1
    return {
        "from": old_v,
        "to": new_v,
        "counts": counts,
        "changes": [c.to_json() for c in changes],
    }
