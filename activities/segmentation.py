"""Activities of the whole-population segmentation run (workflows/segmentation.py).

Each batch evaluates the SQL back end (window functions rank the whole population, so every
batch sees the same ABC classes), writes only the assignments that changed and, in the same
transaction, the process transitions they cause as outbox rows (the relay applies them).
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

import rules
import rules.sql
from activities import policy_store
from activities.customers import assignment_json
from services import outbox
from store import audit
from store.models import Assignment, Customer, PolicyVersion
from workflows.payloads import (
    SegmentationBatch,
    SegmentationBatchResult,
    SegmentationPlan,
    SegmentationRunInput,
)


def active_customers() -> sa.Table:
    """The active population, shaped like the customers table for the SQL back end."""
    sub = select(Customer.__table__).where(Customer.status == "active").subquery("active")
    return cast(sa.Table, sub)


def plan(session: Session, batch_size: int) -> SegmentationPlan:
    """The active version, population size and customer-id bounds of each batch."""
    row = policy_store.active_row(session)
    if row is None:
        raise LookupError("no active policy version")
    ids = session.scalars(
        select(Customer.customer_id)
        .where(Customer.status == "active")
        .order_by(Customer.customer_id)
    ).all()
    bounds = [
        [ids[i], ids[min(i + batch_size, len(ids)) - 1]] for i in range(0, len(ids), batch_size)
    ]
    return SegmentationPlan(row.version, len(ids), bounds)


def segment_batch(
    session: Session, bundle: rules.Bundle, lo: str, hi: str, actor: str, source: str = ""
) -> tuple[int, int, list[outbox.Changes]]:
    """Evaluate and store one batch with the outbox rows of its process changes; returns
    (customers, changed, process changes)."""
    sel = rules.sql.population_select(bundle, active_customers()).subquery("seg")
    rows = session.execute(select(sel).where(sel.c.customer_id.between(lo, hi)))
    results = list(rules.sql.assignments(bundle, rows))
    current = {
        a.customer_id: a
        for a in session.scalars(select(Assignment).where(Assignment.customer_id.between(lo, hi)))
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    transitions: list[outbox.Changes] = []
    for res in results:
        new = res.to_json()
        old = current.get(res.customer_id)
        if old is not None and assignment_json(old) == new:
            continue
        (updates if old is not None else inserts).append(new)
        t = outbox.diff(res.customer_id, old.processes if old else None, res.processes)
        if t:
            transitions.append(t)
    if inserts:
        session.execute(insert(Assignment), inserts)
    if updates:
        session.execute(update(Assignment), updates)
    outbox.queue_changes(session, transitions, source or f"segmentation:{lo}")
    if inserts or updates:
        audit.append(
            session,
            actor=actor,
            action="segmentation.batch",
            target="population",
            policy_version=bundle.version,
            detail={
                "lo": lo,
                "hi": hi,
                "customers": len(results),
                "changed": len(inserts) + len(updates),
            },
        )
    return len(results), len(inserts) + len(updates), transitions


class SegmentationActivities:
    """The run's activities, bound to the store."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @activity.defn(name="segmentation_plan")
    def segmentation_plan(self, inp: SegmentationRunInput) -> SegmentationPlan:
        """Population size and batch bounds under the active version."""
        with self._sessions() as s:
            return plan(s, inp.batch_size)

    @activity.defn(name="segmentation_batch")
    async def segmentation_batch(self, batch: SegmentationBatch) -> SegmentationBatchResult:
        """Segment one batch and queue the process starts/stops its changes ask for."""

        def work() -> tuple[int, int, list[outbox.Changes]]:
            with self._sessions.begin() as s:
                version = s.get(PolicyVersion, batch.policy_version)
                if version is None:
                    raise LookupError(batch.policy_version)
                source = f"segmentation:{activity.info().workflow_id}"
                return segment_batch(
                    s, policy_store.bundle_of(version), batch.lo, batch.hi, batch.actor, source
                )

        customers, changed, transitions = await asyncio.to_thread(work)
        return SegmentationBatchResult(
            customers=customers,
            changed=changed,
            started=sum(len(t.start) for t in transitions),
            stopped=sum(len(t.stop) for t in transitions),
        )

    def all(self) -> list[Any]:
        """Every activity of this class, for the worker."""
        return [self.segmentation_plan, self.segmentation_batch]
