"""Customer upserts and single-customer segmentation against the stored population.

ABC classes are rank-based: a single upsert ranks the customer with two SQL counts over the
stored population (same order as the bulk back end: metric descending with absent metrics
last, then customer_id ascending), then durable-rules evaluates the record.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

import rules
from rules import ownership
from services import points
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


def rank_of(
    session: Session, bundle: rules.Bundle, row: Customer, category: str
) -> tuple[int, int]:
    """(0-based rank, population size) of a customer within its ABC partition."""
    metric_col = Customer.__table__.c[bundle.abc.metric]
    value = getattr(row, bundle.abc.metric)
    scope = [Customer.status == "active"]
    if bundle.abc.partition_by:
        # the partition is a derived segment (e.g. category): read it from assignments
        part_col = Assignment.__table__.c[bundle.abc.partition_by]
        scope.append(
            or_(
                Customer.customer_id.in_(
                    select(Assignment.customer_id).where(part_col == category)
                ),
                Customer.customer_id == row.customer_id,
            )
        )
    if value is None:
        ahead = or_(
            metric_col.is_not(None),
            and_(metric_col.is_(None), Customer.customer_id < row.customer_id),
        )
    else:
        ahead = or_(
            metric_col > value, and_(metric_col == value, Customer.customer_id < row.customer_id)
        )
    n = session.scalar(select(func.count()).select_from(Customer).where(*scope)) or 0
    rank = session.scalar(select(func.count()).select_from(Customer).where(*scope, ahead)) or 0
    return rank, max(n, 1)


def ranks_for(session: Session, bundle: rules.Bundle, ids: list[str]) -> dict[str, tuple[int, int]]:
    """(rank, n) of many customers with one window query (unpartitioned ABC only)."""
    metric = Customer.__table__.c[bundle.abc.metric]
    ranked = (
        select(
            Customer.customer_id,
            (
                func.row_number().over(order_by=[metric.desc().nulls_last(), Customer.customer_id])
                - 1
            ).label("rank"),
            func.count().over().label("n"),
        )
        .where(Customer.status == "active")
        .subquery()
    )
    out: dict[str, tuple[int, int]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.execute(select(ranked).where(ranked.c.customer_id.in_(chunk)))
        out.update({cid: (int(rank), int(n)) for cid, rank, n in rows})
    return out


def assign(
    session: Session,
    engine: rules.Engine,
    bundle: rules.Bundle,
    row: Customer,
    rank: tuple[int, int] | None = None,
) -> tuple[rules.Assignment, dict[str, Any] | None]:
    """Evaluate one stored customer and store the assignment; returns it and the old one.

    `rank` may come precomputed from `ranks_for` (batch upserts)."""
    session.flush()
    record = record_of(row)
    if rank is None:
        first = engine.assign(record, "C")
        rank = rank_of(session, bundle, row, first.category)
    result = engine.assign(record, rules.abc_class_for_rank(bundle, *rank))
    old = session.get(Assignment, row.customer_id)
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
    """Store a validated record, segment it, and audit the change (caller commits)."""
    existing = session.get(Customer, record["customer_id"])
    before_record = record_of(existing) if existing is not None else None
    # segflow-owned fields (points, hazards, theft cases, outages) keep segflow's value
    record, ignored = ownership.keep_owned(before_record, record)
    row, created = store_record(session, record)
    result, before = assign(session, engine, bundle, row)
    if created and row.points_12m:
        # the CRM's figure is an opening balance of the ledger, never a reset
        points.open_balance(session, bundle, row.customer_id, int(row.points_12m), actor)
    audit.append(
        session,
        actor=actor,
        action="customer.created" if created else "customer.updated",
        target=f"customer:{row.customer_id}",
        customer_id=row.customer_id,
        request_id=request_id,
        policy_version=result.policy_version,
        detail={
            "before": audit.digest(before_record) if before_record else None,
            "after": audit.digest(record),
            "segments_before": before,
            "segments_after": result.to_json(),
            "segflow_owned_kept": ignored,
        },
    )
    return result, before
