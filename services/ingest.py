"""Set-based batch ingest: store and segment many validated records in a fixed number of
statements, whatever the store's size.

A batch reads only its own rows (primary-key look-ups of its ids, in chunks), writes the
customers and the changed assignments with multi-row INSERTs and executemany UPDATEs, and
computes the assignments vectorised (rules.vector) against the ABC cut points of the last
population run, never ranking the stored population. So a batch of 10,000 costs the same in
an empty store as in one of 50 million customers. The caller queues the process transitions
of the returned changes and commits (one transaction with its audit entry).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

import rules
from rules import ownership
from rules.abc import CutPoints
from services import abc_cuts, assignment_rows, points
from store.models import Customer

CUSTOMERS = cast(sa.Table, Customer.__table__)
CHUNK = 500  # ids per IN list (SQLite's variable limit and PostgreSQL's plan cache)
RECORD_COLUMNS = [c.name for c in Customer.__table__.columns if c.name in rules.RECORD_FIELDS]


@dataclass
class Change:
    """An assignment that changed: the processes asked for before (None: new) and after."""

    customer_id: str
    before: dict[str, Any] | None
    after: dict[str, Any]


@dataclass
class Ingested:
    """What a batch did; `rows` are the assignments' API form (read-only: their actions and
    processes are shared between customers of one segment combination)."""

    assignments: dict[str, rules.Assignment]
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    created: int = 0
    updated: int = 0


def chunks(ids: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    """`ids` in slices of at most `size`."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def shared_json(a: rules.Assignment) -> dict[str, Any]:
    """`a.to_json()` without its deep copies: the vectorised back end shares one actions /
    processes object per segment combination, and these rows are only written or sent."""
    return {"customer_id": a.customer_id, "category": a.category, "abc_class": a.abc_class,
            "tags": list(a.tags), "points_tier": a.points_tier, "actions": a.actions,
            "processes": a.processes, "policy_version": a.policy_version}  # fmt: skip


def customer_row(record: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Every record column of a validated record (absent = NULL / default), active."""
    row = {name: record.get(name) for name in RECORD_COLUMNS}
    for name in ("contacts", "attributes"):
        if row[name] is None:
            row[name] = {}
    row.update(status="active", updated_at=now)
    return row


def stored_owned(session: Session, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The segflow-owned fields (rules/ownership.py) of those of `ids` that are stored
    (primary-key look-ups): a CRM batch never overwrites them."""
    cols = [Customer.customer_id, *(getattr(Customer, f) for f in ownership.SEGFLOW_OWNED)]
    found: dict[str, dict[str, Any]] = {}
    for part in chunks(ids):
        for row in session.execute(select(*cols).where(Customer.customer_id.in_(part))):
            m = row._mapping
            found[m["customer_id"]] = {f: m[f] for f in ownership.SEGFLOW_OWNED}
    return found


def store_customers(
    session: Session, records: Iterable[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int, int]:
    """Insert or update validated records (unique ids) set-wise; returns the records as
    stored (segflow-owned fields kept), and the counts created and updated."""
    now = datetime.now(UTC)
    records = list(records)
    known = stored_owned(session, [r["customer_id"] for r in records])
    merged = [ownership.keep_owned(known.get(r["customer_id"]), r)[0] for r in records]
    rows = [customer_row(r, now) for r in merged]
    inserts = [{**r, "created_at": now} for r in rows if r["customer_id"] not in known]
    updates = [r for r in rows if r["customer_id"] in known]
    # Core INSERT with every key in every row: one multi-row statement per few hundred rows
    # (the ORM form would split rows by which values are None)
    if inserts:
        session.execute(insert(CUSTOMERS), inserts)
    if updates:
        # Core executemany by id (the SET clause: the parameter names that are columns)
        stmt = update(CUSTOMERS).where(CUSTOMERS.c.customer_id == bindparam("b_id"))
        session.execute(stmt, [{**{k: v for k, v in r.items() if k != "customer_id"},
                                "b_id": r["customer_id"]} for r in updates])  # fmt: skip
    return merged, len(inserts), len(updates)


def ingest(
    session: Session,
    bundle: rules.Bundle,
    records: list[dict[str, Any]],
    cuts: CutPoints | None = None,
) -> Ingested:
    """Store validated records (unique ids) and their assignments; return what changed.

    `cuts` may come loaded once for many batches (an import)."""
    stored, created, updated = store_customers(session, records)
    cuts = cuts if cuts is not None else abc_cuts.current(session, bundle)
    results = rules.segment_population(bundle, stored, validated=True, cuts=cuts)
    # compared by key (services/assignment_rows.py): only changed rows cost a write
    old = assignment_rows.stored(session, [r.customer_id for r in results])
    # new customers (none has an assignment yet): the CRM's points as their opening lots
    points.open_balances(session, bundle, [r for r in stored if r["customer_id"] not in old], "crm")
    now = datetime.now(UTC)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    out = Ingested({r.customer_id: r for r in results}, created=created, updated=updated)
    for res in results:
        out.rows[res.customer_id] = shared_json(res)
        before = old.get(res.customer_id)
        if before is not None and before.key == assignment_rows.key_of(res):
            continue
        (updates if before is not None else inserts).append(assignment_rows.row_of(res, now))
        prior = before.processes if before is not None else None
        out.changes.append(Change(res.customer_id, prior, dict(res.processes)))
    assignment_rows.write(session, inserts, updates)
    return out
