"""Customer operations: upsert one or a batch, read one with its pending transitions.

Each write is one store transaction: the record, the assignment, the audit entry and the
process transitions the new assignment asks for (outbox rows) commit together; Temporal is
not called here (the relay applies the transitions). Synchronous: callers on an event loop
run these in a thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import rules
from activities import customers as customer_store
from activities import policy_store
from services import ingest, outbox
from services.errors import Invalid, Issue, NotFound, TooLarge, no_active_policy
from store import audit, db
from store.models import Assignment, Customer, PolicyPin, PolicyVersion

MAX_BATCH = 10_000

Engines = Callable[[rules.Bundle], rules.Engine]


def active_bundle(session: Session) -> rules.Bundle:
    """The active policy bundle (Conflict when none was activated)."""
    try:
        return policy_store.active_bundle(session)
    except LookupError as err:
        raise no_active_policy() from err


def bundle_of_customer(session: Session, customer_id: str) -> rules.Bundle:
    """The bundle a customer is evaluated under: the staged version it is pinned to, else
    the active one (Conflict when none was activated). One query of two version ids; the
    parsed bundle comes from the cache by version (content hashes: immutable)."""
    pinned = select(PolicyPin.version).where(PolicyPin.customer_id == customer_id)
    active = select(PolicyVersion.version).where(PolicyVersion.status == "active")
    pin, current = session.execute(select(pinned.scalar_subquery(), active.scalar_subquery())).one()
    version = pin or current
    if version is None:
        raise no_active_policy()
    return policy_store.bundle_of_version(session, version)


def validate(record: Any, customer_id: str | None = None) -> dict[str, Any]:
    """A valid record (Invalid with the field paths otherwise); `customer_id` is the id the
    caller addressed, which the record must not contradict."""
    if not isinstance(record, dict):
        raise Invalid("Invalid body", "expected a JSON object (the customer record)")
    if customer_id is not None:
        if record.get("customer_id", customer_id) != customer_id:
            raise Invalid("Invalid record", issues=[Issue("customer_id", "does not match the URL",
                                                          "mismatch")])  # fmt: skip
        record = {**record, "customer_id": customer_id}
    try:
        return rules.validate_record(record)
    except rules.RecordError as err:
        issues = [Issue(i.path, i.message) for i in err.issues]
        raise Invalid("Invalid customer record", issues=issues) from err


@dataclass
class Upserted:
    """A stored customer's new assignment and the transitions it queued."""

    assignment: dict[str, Any]
    transitions: list[dict[str, Any]]


def upsert(
    session: Session, engines: Engines, record: dict[str, Any], actor: str, request_id: str | None
) -> Upserted:
    """Store a validated record, segment it, queue its process transitions; commits.

    A single-customer writer (store/db.py): on PostgreSQL upserts of different customers
    overlap except for the audit append just before the commit."""
    db.customer_writer(session, record["customer_id"])
    bundle = bundle_of_customer(session, record["customer_id"])
    result, before = customer_store.upsert(
        session, engines(bundle), bundle, record, actor, request_id
    )
    change = outbox.diff(record["customer_id"], before and before["processes"], result.processes)
    queued = outbox.queue_changes(session, [change], request_id)
    session.commit()
    return Upserted(result.to_json(), queued)


@dataclass
class BatchItem:
    """The result of one record of a batch."""

    index: int
    customer_id: str | None
    ok: bool
    errors: list[dict[str, Any]] = field(default_factory=list)
    assignment: dict[str, Any] | None = None


@dataclass
class BatchResult:
    """A batch's results in input order and the transitions it queued."""

    received: int
    stored: int
    results: list[BatchItem]
    transitions: list[dict[str, Any]]

    @property
    def failed(self) -> int:
        """Records refused."""
        return sum(not r.ok for r in self.results)


def batch(
    session: Session, engines: Engines, records: list[Any], actor: str, request_id: str | None
) -> BatchResult:
    """Store and segment the valid records of a batch (a later duplicate id wins, like
    sequential PUTs), queue their transitions, audit the batch; commits once. A bad record
    is reported with its index and field paths; the others are stored. Set-based
    (services/ingest.py): the time of a batch does not grow with the store."""
    if len(records) > MAX_BATCH:
        raise TooLarge("Too many records", f"at most {MAX_BATCH} per batch")
    results: list[BatchItem] = []
    valid: dict[str, dict[str, Any]] = {}
    for index, raw in enumerate(records):
        try:
            rec = validate(raw)
        except Invalid as err:
            cid = raw.get("customer_id") if isinstance(raw, dict) else None
            errors = [i.to_json() for i in err.issues] or [
                {"path": "", "message": err.detail, "code": "invalid"}
            ]
            results.append(BatchItem(index, cid if isinstance(cid, str) else None, False, errors))
            continue
        valid[rec["customer_id"]] = rec
        results.append(BatchItem(index, rec["customer_id"], True))
    db.store_writer(session)  # its reads decide what it inserts: none before the lock
    bundle = active_bundle(session)
    # set-based: the batch's own rows only, multi-row writes, assignments vectorised against
    # the cut points (services/ingest.py); the cost does not grow with the store
    done = ingest.ingest(session, bundle, list(valid.values()))
    assignments = done.rows
    changes = [outbox.diff(c.customer_id, c.before, c.after) for c in done.changes]
    queued = outbox.queue_changes(session, [c for c in changes if c], request_id)
    audit.append(
        session,
        actor=actor,
        action="customer.batch_upserted",
        target="customers",
        request_id=request_id,
        policy_version=bundle.version,
        detail={
            "received": len(records),
            "stored": len(valid),
            "digest": audit.digest(sorted(valid)),
            "transitions": len(queued),
        },
    )
    session.commit()
    for item in results:
        if item.ok and item.customer_id is not None:
            item.assignment = assignments[item.customer_id]
    return BatchResult(len(records), len(valid), results, queued)


@dataclass
class CustomerView:
    """A stored customer, its assignment and why, and its transitions not yet applied."""

    record: dict[str, Any]
    status: str
    assignment: dict[str, Any] | None
    explanation: dict[str, Any] | None
    pending_transitions: list[dict[str, Any]]


def get(session: Session, customer_id: str) -> CustomerView:
    """One customer (NotFound when unknown)."""
    row = session.get(Customer, customer_id)
    if row is None:
        raise NotFound("Not found", f"no customer {customer_id}")
    assignment = session.get(Assignment, customer_id)
    explanation = None
    if assignment is not None:
        version = policy_store.bundle_of_version(session, assignment.policy_version)
        explanation = rules.explain(version, customer_store.record_of(row), assignment.abc_class)
        pin = session.get(PolicyPin, customer_id)
        if pin is not None:  # a staged activation: visible beside the version it applies
            explanation["staged"] = {"stage_id": pin.stage_id, "version": pin.version}
    return CustomerView(
        record=customer_store.record_of(row),
        status=row.status,
        assignment=customer_store.assignment_json(assignment) if assignment else None,
        explanation=explanation,
        pending_transitions=outbox.pending_of(session, customer_id),
    )
