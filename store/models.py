"""Typed SQLAlchemy models of the store.

The customers table has one column per scalar field of the customer record contract (so the
bulk segmentation back end can compile policy conditions straight to SQL); assignments, tasks,
outbox and audit rows reference customers by id. Tasks are only the inbox's projection: the
Temporal workflow that opened a task is its source of truth.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    """Timezone-aware now, for column defaults."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Customer(Base):
    """A customer record as pushed by the CRM (contract: rules.RECORD_FIELDS)."""

    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(32))
    important_registered: Mapped[bool] = mapped_column(Boolean, default=False)
    key_attention: Mapped[bool] = mapped_column(Boolean, default=False)
    tariff: Mapped[str | None] = mapped_column(String(32))
    voltage_kv: Mapped[float | None] = mapped_column(Float)
    capacity_kva: Mapped[float | None] = mapped_column(Float)
    feeder_id: Mapped[str | None] = mapped_column(String(64), index=True)
    annual_kwh: Mapped[float | None] = mapped_column(Float)
    annual_revenue: Mapped[float | None] = mapped_column(Float)
    late_payments_12m: Mapped[int] = mapped_column(Integer, default=0)
    overdue_days: Mapped[int] = mapped_column(Integer, default=0)
    outage_count_12m: Mapped[int] = mapped_column(Integer, default=0)
    outage_complaints_12m: Mapped[int] = mapped_column(Integer, default=0)
    online_interactions_12m: Mapped[int] = mapped_column(Integer, default=0)
    offline_interactions_12m: Mapped[int] = mapped_column(Integer, default=0)
    open_hazards: Mapped[int] = mapped_column(Integer, default=0)
    violations_24m: Mapped[int] = mapped_column(Integer, default=0)
    theft_records_24m: Mapped[int] = mapped_column(Integer, default=0)
    points_12m: Mapped[int] = mapped_column(Integer, default=0)
    arrears_amount: Mapped[float] = mapped_column(Float, default=0.0)
    outage_minutes_12m: Mapped[float] = mapped_column(Float, default=0.0)
    outage_sensitive_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    life_support: Mapped[bool] = mapped_column(Boolean, default=False)
    prepaid_meter: Mapped[bool] = mapped_column(Boolean, default=False)
    backup_power_compliant: Mapped[bool | None] = mapped_column(Boolean)
    contacts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # segflow-owned outcomes beyond the record contract (see rules/ownership.py)
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    unreachable_12m: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Assignment(Base):
    """A customer's current segments and merged service actions under one policy version."""

    __tablename__ = "assignments"

    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.customer_id", ondelete="CASCADE"), primary_key=True
    )
    policy_version: Mapped[str] = mapped_column(String(80))
    category: Mapped[str] = mapped_column(String(32), index=True)
    abc_class: Mapped[str] = mapped_column(String(1), index=True)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    points_tier: Mapped[str] = mapped_column(String(32), index=True)
    actions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    processes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PolicyVersion(Base):
    """A policy bundle by content hash; exactly one is active at a time."""

    __tablename__ = "policy_versions"

    version: Mapped[str] = mapped_column(String(80), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft/active/retired
    files: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Task(Base):
    """A human task as the inbox sees it; opened and closed by the owning workflow."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_inbox", "status", "assignee", "queue", "due_at"),
        Index("ix_tasks_workflow", "workflow_id"),
    )

    task_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    assignee: Mapped[str | None] = mapped_column(String(100))
    queue: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="open")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    completed_by: Mapped[str | None] = mapped_column(String(100))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    policy_version: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # inbox order after overdue-first: set by routing from the customer's strategy
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class StaffAway(Base):
    """A person (account manager) away until a time: their customers' tasks go to the queue."""

    __tablename__ = "staff_away"

    principal: Mapped[str] = mapped_column(String(100), primary_key=True)
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(200), default="")
    set_by: Mapped[str] = mapped_column(String(100))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PointsAccount(Base):
    """A customer's points balance (the sum of the ledger; the check keeps it >= 0)."""

    __tablename__ = "points_accounts"
    __table_args__ = (CheckConstraint("balance >= 0", name="ck_points_accounts_balance"),)

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    balance: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PointsMovement(Base):
    """One points movement (opening / earn / redeem / expire), unique by its key.

    Opening and earn rows are lots: `remaining` is what is left of them, spent and expired
    first-in-first-out."""

    __tablename__ = "points_ledger"
    __table_args__ = (
        CheckConstraint("remaining >= 0", name="ck_points_ledger_remaining"),
        Index("ix_points_ledger_customer", "customer_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(60))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OutboxMessage(Base):
    """Every request to an external system (SMS, WeChat, meter head-end, authority filing).

    The default adapters only record here; the unique key makes retried activities harmless.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    adapter: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(60))
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    workflow_id: Mapped[str | None] = mapped_column(String(200), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    """Append-only, hash-chained audit log: each entry carries the hash of the one before."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    target: Mapped[str] = mapped_column(String(200), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    policy_version: Mapped[str | None] = mapped_column(String(80))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)  # no forks
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class ProcessedEvent(Base):
    """CRM events by event id, so a re-sent event is answered, not re-applied."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    digest: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IdempotencyRecord(Base):
    """Responses of POSTs made with an Idempotency-Key, replayed on retry."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    principal: Mapped[str] = mapped_column(String(100), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Case(Base):
    """A theft or tampering case found at an account-closure inspection (blocks closure)."""

    __tablename__ = "cases"

    case_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    workflow_id: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # theft / tampering
    status: Mapped[str] = mapped_column(String(16), default="open")  # open/settled/cancelled
    evidence: Mapped[str] = mapped_column(Text, default="")
    back_billing: Mapped[float] = mapped_column(Float, default=0.0)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# ---- protections of the arrears ladder (registrations, holds, moratoria) -----------------


class Registration(Base):
    """A life-support / medical registration with its certificate's dates. Past `valid_to`
    it still protects until a review ends or renews it (`review_outcome`)."""

    __tablename__ = "registrations"

    registration_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # life_support / medical
    status: Mapped[str] = mapped_column(String(16), default="active")  # active / ended
    certificate_ref: Mapped[str] = mapped_column(String(200))
    certified_by: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    review_outcome: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Hold(Base):
    """Something that holds the arrears ladder: a dispute or complaint about the bill, a
    pending hardship / aid application, an agreed payment plan."""

    __tablename__ = "holds"

    hold_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    bill_id: Mapped[str | None] = mapped_column(String(64))  # None: every bill
    status: Mapped[str] = mapped_column(String(16), default="open")  # open / resolved
    reference: Mapped[str] = mapped_column(String(200), default="")
    opened_by: Mapped[str] = mapped_column(String(100))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolution: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Moratorium(Base):
    """Days without disconnections declared at run time (extreme weather, emergencies)."""

    __tablename__ = "moratoria"

    moratorium_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active / lifted
    declared_by: Mapped[str] = mapped_column(String(100))
    declared_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AbcCutSet(Base):
    """The ABC cut points one population run computed (under one policy version).

    Upserts classify against the newest set whose `abc_digest` (the ABC settings: metric,
    cuts, partition) matches the active policy's, so a policy change that keeps the ABC
    settings keeps the cut points.
    """

    __tablename__ = "abc_cut_sets"
    __table_args__ = (Index("ix_abc_cut_sets_current", "abc_digest", "computed_at"),)

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy_version: Mapped[str] = mapped_column(String(80))
    abc_digest: Mapped[str] = mapped_column(String(64))
    population: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AbcCutPoint(Base):
    """The last customer of one class (or better) in one partition: its rank key."""

    __tablename__ = "abc_cut_points"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("abc_cut_sets.run_id", ondelete="CASCADE"), primary_key=True
    )
    partition: Mapped[str] = mapped_column(String(200), primary_key=True)
    abc_class: Mapped[str] = mapped_column(String(8), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer)
    population: Mapped[int] = mapped_column(Integer)
    metric: Mapped[float | None] = mapped_column(Float)
    customer_id: Mapped[str] = mapped_column(String(64))


class SegmentationBatch(Base):
    """One keyset range of a population run: lo <= customer_id < hi (hi NULL: to the end).

    Any worker may take a batch; its row is marked done in the transaction that writes its
    assignments, so a retried or duplicated batch activity finds it done and does nothing.
    """

    __tablename__ = "segmentation_batches"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    lo: Mapped[str] = mapped_column(String(64))
    hi: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending / done
    customers: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    started: Mapped[int] = mapped_column(Integer, default=0)
    stopped: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(100))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditCheckpoint(Base):
    """A signed (sequence, head hash) of the audit chain; the key lives outside the database,
    so a rewritten chain no longer matches the checkpoints signed before the rewrite."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    head_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(64))


class RevokedSession(Base):
    """Web sessions signed out on the server: a copied cookie stays signed out."""

    __tablename__ = "revoked_sessions"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Transition(Base):
    """A process transition (start, signal, stop) waiting for the relay: the outbox.

    Written in the same transaction as the record, assignment and audit entry that cause it;
    the relay (services/relay.py) applies it to Temporal afterwards, in id order per workflow.
    `request_id` is sent with the Temporal call so that a re-applied row is deduplicated.
    """

    __tablename__ = "transitions"
    __table_args__ = (
        Index("ix_transitions_claim", "status", "next_attempt_at", "id"),
        Index("ix_transitions_pending", "status", "id"),  # the relay's claim order
        Index("ix_transitions_workflow", "workflow_id", "status", "id"),
        Index("ix_transitions_customer", "customer_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    workflow_id: Mapped[str] = mapped_column(String(200))
    op: Mapped[str] = mapped_column(String(16))  # start / signal / stop
    kind: Mapped[str] = mapped_column(String(40))  # the process kind (workflow type)
    signal: Mapped[str | None] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    customer_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(200))  # request id / event id / run id
    status: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # pending/done/failed/skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    applied_by: Mapped[str | None] = mapped_column(String(100))  # the relay that recorded it


class PolicyStage(Base):
    """A staged activation: a version applies first to a share or a segment of customers
    (pinned in `policy_pins`), is compared with the rest, then widened or rolled back."""

    __tablename__ = "policy_stages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(80), index=True)
    share: Mapped[float | None] = mapped_column(Float)  # by a stable hash of the customer id
    dimension: Mapped[str | None] = mapped_column(String(32))  # or a segment: tag, category...
    value: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running/rolled_back
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PolicyPin(Base):
    """A customer pinned to a staged version (its assignments use that version)."""

    __tablename__ = "policy_pins"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(80))
    stage_id: Mapped[int] = mapped_column(Integer, index=True)
    pinned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
