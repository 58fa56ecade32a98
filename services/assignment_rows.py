"""Assignments in bulk: which stored ones changed, and the changed ones written set-wise.

Batch ingest and population-run batches compare tens of thousands of new assignments with
the stored ones. An assignment's actions and processes are a function of its segment
combination under one policy version (rules/assignment.py), so two assignments are equal
exactly when their keys (category, class, tags, points tier, policy version) are: the
comparison reads those small columns, not the JSON of every row. The stored processes (needed
only for the changed rows, to diff the process starts and stops) are read as JSON text and
decoded once per distinct text, since a population has a few hundred combinations, not one
per customer. Writes are Core executemany statements with one parameter set per row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

import rules
from store.models import Assignment

ASSIGNMENTS = cast(sa.Table, Assignment.__table__)
CHUNK = 500  # ids per IN list (SQLite's variable limit and PostgreSQL's plan cache)

Key = tuple[str, str, tuple[str, ...], str, str]


def key_of(a: rules.Assignment) -> Key:
    """What decides an assignment's whole content under one policy version."""
    return (a.category, a.abc_class, tuple(a.tags), a.points_tier, a.policy_version)


def stored_columns(table: sa.Table | sa.Subquery = ASSIGNMENTS) -> list[sa.ColumnElement[Any]]:
    """The stored key and processes (JSON as text), labelled `old_*` (a join may select
    them beside new values of the same names)."""
    c = table.c
    return [
        c.category.label("old_category"),
        c.abc_class.label("old_abc_class"),
        sa.cast(c.tags, sa.Text).label("old_tags"),
        c.points_tier.label("old_points_tier"),
        c.policy_version.label("old_policy_version"),
        sa.cast(c.processes, sa.Text).label("old_processes"),
    ]


class Decoder:
    """JSON text -> value, decoded once per distinct text (results are shared: read-only).
    A driver that decodes JSON itself hands over values, which pass through."""

    def __init__(self) -> None:
        self._seen: dict[str, Any] = {}

    def __call__(self, raw: Any) -> Any:
        if not isinstance(raw, str):
            return raw
        value = self._seen.get(raw)
        if value is None:
            value = self._seen[raw] = json.loads(raw)
        return value


class Stored:
    """A stored assignment's key and processes, from a row with `stored_columns`."""

    __slots__ = ("key", "processes")

    def __init__(self, key: Key | None, processes: dict[str, Any] | None) -> None:
        self.key, self.processes = key, processes

    @classmethod
    def of(cls, m: Mapping[Any, Any], decode: Decoder) -> Stored:
        if m["old_category"] is None:  # no stored assignment (outer join)
            return cls(None, None)
        tags = tuple(decode(m["old_tags"]) or ())
        key = (m["old_category"], m["old_abc_class"], tags, m["old_points_tier"],
               m["old_policy_version"])  # fmt: skip
        return cls(key, decode(m["old_processes"]) or {})


def stored(session: Session, ids: Sequence[str]) -> dict[str, Stored]:
    """The stored assignments of `ids` (primary-key look-ups in chunks)."""
    decode = Decoder()
    out: dict[str, Stored] = {}
    for part in _chunks(ids):
        q = select(ASSIGNMENTS.c.customer_id, *stored_columns()).where(
            ASSIGNMENTS.c.customer_id.in_(part)
        )
        for row in session.execute(q):
            out[row.customer_id] = Stored.of(row._mapping, decode)
    return out


def row_of(a: rules.Assignment, now: datetime) -> dict[str, Any]:
    """The row of an assignment (actions and processes shared, not copied: only written)."""
    return {"customer_id": a.customer_id, "category": a.category, "abc_class": a.abc_class,
            "tags": list(a.tags), "points_tier": a.points_tier, "actions": a.actions,
            "processes": a.processes, "policy_version": a.policy_version,
            "assigned_at": now}  # fmt: skip


def write(session: Session, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]) -> None:
    """Insert new rows and update changed ones (by customer id), one executemany each."""
    if inserts:
        session.execute(insert(ASSIGNMENTS), inserts)
    if updates:
        stmt = update(ASSIGNMENTS).where(ASSIGNMENTS.c.customer_id == bindparam("b_id"))
        # the SET clause comes from the parameter names that are columns (not the id)
        cols = [k for k in updates[0] if k != "customer_id"]
        session.execute(stmt, [{"b_id": u["customer_id"], **{k: u[k] for k in cols}}
                               for u in updates])  # fmt: skip


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
