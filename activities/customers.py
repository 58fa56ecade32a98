"""Customer upserts and single-customer segmentation against the stored population.

ABC classes compare the customer's rank key with the cut points of the last population run
(services/abc_cuts.py: two indexed reads, never a count over the population), then
durable-rules evaluates the record.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

import rules
from rules import ownership
from rules.abc import CutPoints
from services import abc_cuts, points
from store import audit
from store.models import Assignment, Customer

RECORD_COLUMNS = [c.name for c in Customer.__table__.columns if c.name in rules.RECORD_FIELDS]


def record_of(row: Customer) -> dict[str, Any]:
    """The customer record contract form of a stored row."""
    return {name: getattr(row, name) for name in RECORD_COLUMNS}


def store_record(session: Session, record: dict[str, Any]) -> tuple[Customer, bool]:
    """Insert or update a validated record; returns the row and whether it was new."""
    row = session.get(Customer, record["customer_id"])
    created = row is None
    # a CRM record never overwrites what segflow owns (rules/ownership.py)
    record, _ = ownership.keep_owned(None if row is None else record_of(row), record)
    if row is None:
        row = Customer(customer_id=record["customer_id"])
        session.add(row)
    for name in RECORD_COLUMNS:
        setattr(row, name, record.get(name))
    row.status = "active"
    return row, created


def abc_class_of(
    session: Session,
    engine: rules.Engine,
    bundle: rules.Bundle,
    record: dict[str, Any],
    cuts: CutPoints | None = None,
) -> str:
    """The record's ABC class against the cut points of the last population run."""
    cuts = cuts if cuts is not None else abc_cuts.current(session, bundle)
    category = ""
    if bundle.abc.partition_by == "category":
        # the partition is the derived category: one evaluation to learn it
        category = engine.assign(record, bundle.abc.rest).category
    return abc_cuts.classify_with(cuts, bundle, record, category)


def assign(
    session: Session,
    engine: rules.Engine,
    bundle: rules.Bundle,
    row: Customer,
    cuts: CutPoints | None = None,
    new: bool = False,
) -> tuple[rules.Assignment, dict[str, Any] | None]:
    """Evaluate one stored customer and store the assignment; returns it and the old one.

    `cuts` may come loaded once for a whole batch; `new`: the customer was created in this
    transaction, so it has no assignment to read."""
    record = record_of(row)
    result = engine.assign(record, abc_class_of(session, engine, bundle, record, cuts))
    old = None if new else session.get(Assignment, row.customer_id)
    before = None
    if old is None:
        old = Assignment(customer_id=row.customer_id)
        session.add(old)
    else:
        before = assignment_json(old)
    old.policy_version = result.policy_version
    old.category = result.category
    old.abc_class = result.abc_class
    old.tags = list(result.tags)
    old.points_tier = result.points_tier
    old.actions = result.actions
    old.processes = result.processes
    return result, before


def assignment_json(row: Assignment) -> dict[str, Any]:
    """The API form of a stored assignment."""
    return {
        "customer_id": row.customer_id,
        "category": row.category,
        "abc_class": row.abc_class,
        "tags": list(row.tags),
        "points_tier": row.points_tier,
        "actions": row.actions,
        "processes": row.processes,
        "policy_version": row.policy_version,
    }


def upsert(
    session: Session,
    engine: rules.Engine,
    bundle: rules.Bundle,
    record: dict[str, Any],
    actor: str,
    request_id: str | None = None,
) -> tuple[rules.Assignment, dict[str, Any] | None]:
    """Store a validated record, segment it, and audit the change (caller commits).

    One audit entry per upsert: a new customer's opening points lot (the CRM's figure,
    services/points.py) is written in the same transaction and recorded in it."""
    existing = session.get(Customer, record["customer_id"])
    before_record = record_of(existing) if existing is not None else None
    # segflow-owned fields (points, hazards, theft cases, outages) keep segflow's value
    record, ignored = ownership.keep_owned(before_record, record)
    row, created = store_record(session, record)
    result, before = assign(session, engine, bundle, row, new=created)
    detail: dict[str, Any] = {
        "before": audit.digest(before_record) if before_record else None,
        "after": audit.digest(record),
        "segments_before": before,
        "segments_after": result.to_json(),
        "segflow_owned_kept": ignored,
    }
    if created and row.points_12m:
        # the CRM's figure is an opening balance of the ledger, never a reset
        opened = points.open_balances(session, bundle, [record_of(row)], actor, audited=False)
        detail["points_opening"] = opened.to_json()
    audit.append(
        session,
        actor=actor,
        action="customer.created" if created else "customer.updated",
        target=f"customer:{row.customer_id}",
        customer_id=row.customer_id,
        request_id=request_id,
        policy_version=result.policy_version,
        detail=detail,
    )
    return result, before
