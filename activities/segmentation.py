"""Activities of the whole-population segmentation run (workflows/segmentation.py).

The plan step sorts the active population once: it stores the ABC cut points of the run
(services/abc_cuts.py) and the run's keyset batches (`lo <= customer_id < hi`) as rows, so
the workflow passes only batch numbers. A batch classifies its own customers against the
run's cut points (a comparison per row, no window over the population), writes only the
assignments that changed and marks its row done in the same transaction: its cost does not
depend on the population's size, any worker may take it, and a duplicate or retried
execution finds the row done and does nothing twice. The process starts and stops the
changes cause are outbox rows of the same transaction (the relay applies them).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

import rules
import rules.sql
from activities import policy_store
from services import abc_cuts, assignment_rows, outbox
from store import audit
from store.models import Customer, PolicyPin, PolicyVersion
from store.models import SegmentationBatch as BatchRow
from workflows.segmentation_payloads import (
    SegmentationBatch,
    SegmentationBatchResult,
    SegmentationPlan,
    SegmentationRunInput,
)

WORKER = f"{socket.gethostname()}:{os.getpid()}"  # which worker process took a batch


class InFlight:
    """How many run batches this process is working on (the relay of the same process
    yields while there are any: services/relay.py)."""

    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def one(self) -> Iterator[None]:
        with self._lock:
            self._n += 1
        try:
            yield
        finally:
            with self._lock:
                self._n -= 1

    def busy(self) -> bool:
        """Whether a batch is running in this process now."""
        return self._n > 0


RUNNING = InFlight()  # per process, like WORKER


def batch_starts(session: Session, batch_size: int) -> list[str]:
    """The first customer id of each keyset batch (one ordered pass over the id index)."""
    rn = func.row_number().over(order_by=Customer.customer_id).label("rn")
    ranked = select(Customer.customer_id, rn).where(Customer.status == "active").subquery("ids")
    return list(
        session.scalars(
            select(ranked.c.customer_id)
            .where((ranked.c.rn - 1) % batch_size == 0)
            .order_by(ranked.c.customer_id)
        )
    )


def plan(session: Session, run_id: str, batch_size: int) -> SegmentationPlan:
    """Cut points and keyset batches of a run under the active version (stored, not sent)."""
    row = policy_store.active_row(session)
    if row is None:
        raise LookupError("no active policy version")
    bundle = policy_store.bundle_of(row)
    points, population = abc_cuts.compute(session, bundle)
    abc_cuts.save(session, run_id, bundle, points, population)
    starts = batch_starts(session, batch_size)
    session.execute(delete(BatchRow).where(BatchRow.run_id == run_id))
    if starts:
        session.execute(
            insert(BatchRow),
            [
                {"run_id": run_id, "seq": i, "lo": lo,
                 "hi": starts[i + 1] if i + 1 < len(starts) else None, "status": "pending",
                 "customers": 0, "changed": 0, "started": 0, "stopped": 0}
                for i, lo in enumerate(starts)
            ],
        )  # fmt: skip
    return SegmentationPlan(row.version, population, batches=len(starts))


def batch_customers(lo: str, hi: str | None) -> sa.Table:
    """The active, unpinned customers of one keyset range, shaped like the customers table."""
    q = select(Customer.__table__).where(Customer.status == "active", Customer.customer_id >= lo)
    # customers pinned by a staged activation keep the staged version (services/staging.py)
    q = q.where(Customer.customer_id.not_in(select(PolicyPin.customer_id)))
    if hi is not None:
        q = q.where(Customer.customer_id < hi)
    return cast(sa.Table, q.subquery("batch"))


def segment_range(
    session: Session,
    bundle: rules.Bundle,
    cuts: rules.abc.CutPoints,
    lo: str,
    hi: str | None,
    actor: str,
    source: str = "",
) -> tuple[int, int, list[outbox.Changes]]:
    """Evaluate and store one keyset range with the outbox rows of its process changes;
    returns (customers, changed, process changes).

    One statement reads each customer's new segments beside its stored assignment's key
    (services/assignment_rows.py), so only the changed rows cost more than a comparison."""
    new = rules.sql.population_select(bundle, batch_customers(lo, hi), cuts).subquery("new")
    old = assignment_rows.ASSIGNMENTS
    q = select(new, *assignment_rows.stored_columns(old)).select_from(
        new.outerjoin(old, old.c.customer_id == new.c.customer_id)
    )
    decode = assignment_rows.Decoder()
    now = datetime.now(UTC)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    transitions: list[outbox.Changes] = []
    customers = 0
    for res, row in zip(*_assignments(bundle, session.execute(q)), strict=True):
        customers += 1
        before = assignment_rows.Stored.of(row._mapping, decode)
        if before.key == assignment_rows.key_of(res):
            continue
        (updates if before.key is not None else inserts).append(assignment_rows.row_of(res, now))
        t = outbox.diff(res.customer_id, before.processes, res.processes)
        if t:
            transitions.append(t)
    assignment_rows.write(session, inserts, updates)
    outbox.queue_changes(session, transitions, source or f"segmentation:{lo}", answer=False)
    if inserts or updates:
        audit.append(
            session,
            actor=actor,
            action="segmentation.batch",
            target="population",
            policy_version=bundle.version,
            detail={"lo": lo, "hi": hi, "customers": customers,
                    "changed": len(inserts) + len(updates)},
        )  # fmt: skip
    return customers, len(inserts) + len(updates), transitions


def _assignments(
    bundle: rules.Bundle, result: sa.Result[Any]
) -> tuple[list[rules.Assignment], list[sa.Row[Any]]]:
    rows = list(result)
    return list(rules.sql.assignments(bundle, rows)), rows


def segment_all(session: Session, bundle: rules.Bundle, run_id: str, actor: str) -> int:
    """Cut points and assignments of the whole active population in one transaction (the
    dev stack's demo load); returns the customers segmented."""
    points, population = abc_cuts.compute(session, bundle)
    abc_cuts.save(session, run_id, bundle, points, population)
    cuts = abc_cuts.of_run(session, bundle, run_id)
    customers, _, _ = segment_range(session, bundle, cuts, "", None, actor, run_id)
    return customers


def run_batch(session: Session, batch: SegmentationBatch) -> SegmentationBatchResult:
    """Claim the batch row, segment its range, record the result with it (one transaction).

    A batch already done (a retry, or a second execution) returns its stored result."""
    claimed = session.execute(
        update(BatchRow)
        .where(BatchRow.run_id == batch.run_id, BatchRow.seq == batch.seq)
        .where(BatchRow.status == "pending")
        .values(status="done", worker=WORKER, done_at=datetime.now(UTC))
    )
    row = session.get(BatchRow, (batch.run_id, batch.seq))
    if row is None:
        raise LookupError(f"no batch {batch.seq} in run {batch.run_id}")
    if not claimed.rowcount:  # type: ignore[attr-defined]
        return SegmentationBatchResult(row.customers, row.changed, row.started, row.stopped)
    version = session.get(PolicyVersion, batch.policy_version)
    if version is None:
        raise LookupError(batch.policy_version)
    bundle = policy_store.bundle_of(version)
    cuts = abc_cuts.of_run(session, bundle, batch.run_id)
    customers, changed, transitions = segment_range(
        session, bundle, cuts, row.lo, row.hi, batch.actor, f"segmentation:{batch.run_id}"
    )
    row.customers, row.changed = customers, changed
    row.started = sum(len(t.start) for t in transitions)
    row.stopped = sum(len(t.stop) for t in transitions)
    return SegmentationBatchResult(customers, changed, row.started, row.stopped)


class SegmentationActivities:
    """The run's activities, bound to the store."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @activity.defn(name="segmentation_plan")
    def segmentation_plan(self, inp: SegmentationRunInput) -> SegmentationPlan:
        """Cut points and batches of the run under the active version."""
        with self._sessions.begin() as s:
            return plan(s, inp.run_id, inp.batch_size)

    @activity.defn(name="segmentation_batch")
    async def segmentation_batch(self, batch: SegmentationBatch) -> SegmentationBatchResult:
        """Segment one batch and queue the process starts/stops its changes ask for."""

        def work() -> SegmentationBatchResult:
            with RUNNING.one(), self._sessions.begin() as s:
                return run_batch(s, batch)

        return await asyncio.to_thread(work)

    def all(self) -> list[Any]:
        """Every activity of this class, for the worker."""
        return [self.segmentation_plan, self.segmentation_batch]
