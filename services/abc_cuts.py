"""ABC cut points in the store: computed once per population run, read by every upsert.

A population run ranks the active population once (one sort, rules.sql.cut_points_select)
and stores, per partition and class, the rank key of the class's last customer. Single and
batch upserts classify against the newest stored set whose ABC settings match the active
policy's: two indexed reads, however large the population. Until the first run (or after
the ABC settings change) there is no set, and a customer is provisionally in the rest class
(docs/policies.md, "ABC classes between population runs").
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

import rules
import rules.sql
from rules.abc import CutPoint, CutPoints, points_from_rows
from rules.reference import abc_metric_of, abc_partition_of
from store.models import AbcCutPoint, AbcCutSet, Customer


def abc_digest(abc: rules.AbcSettings) -> str:
    """Identity of the ABC settings (cut points carry over between versions that share it)."""
    spec = {
        "metric": abc.metric,
        "cuts": [[cls, f"{frac.numerator}/{frac.denominator}"] for cls, frac in abc.cuts],
        "rest": abc.rest,
        "partition_by": abc.partition_by,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def active_customers() -> sa.Table:
    """The active population, shaped like the customers table for the SQL back end."""
    sub = select(Customer.__table__).where(Customer.status == "active").subquery("active")
    return cast(sa.Table, sub)


def compute(session: Session, bundle: rules.Bundle) -> tuple[list[CutPoint], int]:
    """Cut points of the active population now, and its size (one sort in the store)."""
    rows = session.execute(rules.sql.cut_points_select(bundle, active_customers()))
    points = points_from_rows(bundle.abc, [dict(r._mapping) for r in rows])
    population = session.scalar(
        select(sa.func.count()).select_from(Customer).where(Customer.status == "active")
    )
    return points, int(population or 0)


def save(
    session: Session, run_id: str, bundle: rules.Bundle, points: list[CutPoint], population: int
) -> None:
    """Store a run's cut points (replacing the run's earlier set: a retried plan step)."""
    session.execute(delete(AbcCutPoint).where(AbcCutPoint.run_id == run_id))
    session.execute(delete(AbcCutSet).where(AbcCutSet.run_id == run_id))
    session.add(
        AbcCutSet(
            run_id=run_id,
            policy_version=bundle.version,
            abc_digest=abc_digest(bundle.abc),
            population=population,
        )
    )
    session.flush()
    if points:
        session.execute(
            insert(AbcCutPoint),
            [
                {
                    "run_id": run_id,
                    "partition": p.partition,
                    "abc_class": p.abc_class,
                    "rank": p.rank,
                    "population": p.population,
                    "metric": p.metric,
                    "customer_id": p.customer_id,
                }
                for p in points
            ],
        )


def of_run(session: Session, bundle: rules.Bundle, run_id: str) -> CutPoints:
    """The cut points a run stored."""
    rows = session.scalars(select(AbcCutPoint).where(AbcCutPoint.run_id == run_id))
    return CutPoints(bundle.abc, [_point(r) for r in rows])


def current_set(session: Session, bundle: rules.Bundle) -> AbcCutSet | None:
    """The newest cut set computed under the active ABC settings."""
    return session.scalars(
        select(AbcCutSet)
        .where(AbcCutSet.abc_digest == abc_digest(bundle.abc))
        .order_by(AbcCutSet.computed_at.desc())
        .limit(1)
    ).one_or_none()


def current(session: Session, bundle: rules.Bundle) -> CutPoints:
    """The cut points upserts classify against (empty before the first run: rest class)."""
    head = current_set(session, bundle)
    if head is None:
        return CutPoints(bundle.abc, [])
    return of_run(session, bundle, head.run_id)


def describe(session: Session, bundle: rules.Bundle) -> dict[str, Any] | None:
    """The current set for people: run, version, when, and each boundary."""
    head = current_set(session, bundle)
    if head is None:
        return None
    return {
        "run_id": head.run_id,
        "policy_version": head.policy_version,
        "computed_at": head.computed_at.isoformat(),
        "population": head.population,
        "points": [
            {
                "partition": json.loads(p.partition),
                "abc_class": p.abc_class,
                "rank": p.rank,
                "population": p.population,
                "metric": p.metric,
                "customer_id": p.customer_id,
            }
            for p in of_run(session, bundle, head.run_id).points
        ],
    }


def _point(row: AbcCutPoint) -> CutPoint:
    return CutPoint(
        row.partition, row.abc_class, row.rank, row.population, row.metric, row.customer_id
    )


def classify(session: Session, bundle: rules.Bundle, record: dict[str, Any], category: str) -> str:
    """The class of one validated record against the current cut points."""
    return classify_with(current(session, bundle), bundle, record, category)


def classify_with(
    cuts: CutPoints, bundle: rules.Bundle, record: dict[str, Any], category: str
) -> str:
    """The class of one validated record against given cut points (a batch loads them once)."""
    part = abc_partition_of(bundle, record, category)
    return cuts.classify(part, abc_metric_of(bundle, record), record["customer_id"])
