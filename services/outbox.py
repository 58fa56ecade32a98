"""The outbox of process transitions: what a store change asks Temporal to do.

Callers add rows here inside the transaction that changes the record, the assignment and the
audit log, and commit them together; the relay (services/relay.py) applies them afterwards.
So an answer from the API means "stored and queued", not "running in Temporal": the
response lists the pending transitions and GET /v1/customers/{id} shows them until applied.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from store.models import Transition
from workflows.catalogue import BY_KIND, BY_STRATEGY
from workflows.signals import LeaveSignal

TRANSITIONS = cast(sa.Table, Transition.__table__)
PENDING = "pending"
LIVE = (PENDING, "done")
STARTS = ("start", "join")


@dataclass
class Changes:
    """Segment-driven processes an assignment change starts and stops (strategy names)."""

    customer_id: str
    start: list[str] = field(default_factory=list)
    stop: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.start or self.stop)


def diff(customer_id: str, before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> Changes:
    """Processes to start (asked for now, not before) and to stop (no longer asked for).
    Unchanged ones need nothing: their start was queued when they first were asked for, and
    the outbox loses nothing."""
    old = {p for p in (before or {}) if p in BY_STRATEGY}
    new = {p for p in after if p in BY_STRATEGY}
    return Changes(customer_id, start=sorted(new - old), stop=sorted(old - new))


def _row(
    op: str,
    kind: str,
    workflow_id: str,
    payload: dict[str, Any],
    customer_id: str | None,
    source: str | None,
    signal: str | None = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "request_id": uuid.uuid4().hex,
        "workflow_id": workflow_id,
        "op": op,
        "kind": kind,
        "signal": signal,
        "payload": payload,
        "customer_id": customer_id,
        "source": (source or "")[:200] or None,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def segment_rows(changes: Iterable[Changes], source: str | None) -> list[dict[str, Any]]:
    """Outbox rows of many assignment changes (start with the default input, stop = leave).

    A segment start's input is its kind's default with the customer id, so the input's
    field dict is built once per process and copied per customer (a day-one batch queues
    thousands of starts of a handful of kinds)."""
    rows: list[dict[str, Any]] = []
    defaults: dict[str, dict[str, Any]] = {}
    leave = dataclasses.asdict(LeaveSignal())
    for change in changes:
        cid = change.customer_id
        for name in change.start:
            proc = BY_STRATEGY[name]
            if name not in defaults:
                defaults[name] = dataclasses.asdict(proc.input(customer_id=""))
            inp = {**defaults[name], "customer_id": cid}
            rows.append(_row("start", proc.kind, proc.workflow_id(inp), inp, cid, source))
        for name in change.stop:
            proc = BY_STRATEGY[name]
            wid = proc.id_template.format(customer_id=cid)
            rows.append(_row("stop", proc.kind, wid, dict(leave), cid, source, proc.stop_signal))
    return rows


def queue_changes(
    session: Session, changes: Iterable[Changes], source: str | None, answer: bool = True
) -> list[dict[str, Any]]:
    """Queue the rows of assignment changes, cancelling against rows still waiting: a stop
    after a start of the same workflow that no relay has tried yet leaves both out (the
    customer entered and left a segment before its process started). A start after a
    waiting stop queues behind it: the run may already have ended on its own (a process
    whose plan turns inactive finishes), so only a new start guarantees one runs; the relay
    waits for a run told to leave to end before it starts the next. Returns the public form
    of the rows queued."""
    rows = segment_rows(changes, source)
    waiting = _waiting(session, {r["workflow_id"] for r in rows})
    pairs: list[tuple[dict[str, Any], int | None]] = []
    for row in rows:
        prev = waiting.pop(row["workflow_id"], None)
        opposite = prev is not None and (prev[1], row["op"]) == ("start", "stop")
        pairs.append((row, prev[0] if prev is not None and opposite else None))
    cancel = [rid for _, rid in pairs if rid is not None]
    cancelled: set[int] = set()
    if cancel:
        # only rows no relay has claimed yet (a claimed one is in flight: keep both)
        cancelled = set(
            session.execute(
                update(Transition)
                .where(Transition.id.in_(cancel), Transition.lease_owner.is_(None))
                # never tried: a row waiting for its retry may have reached Temporal already
                # (a call that timed out after the server applied it)
                .where(Transition.status == PENDING, Transition.attempts == 0)
                .values(status="skipped", last_error="superseded by a later change",
                        applied_at=datetime.now(UTC))
                .returning(Transition.id)
            ).scalars()
        )  # fmt: skip
    kept = [row for row, rid in pairs if rid is None or rid not in cancelled]
    return add(session, kept, answer)


def _waiting(session: Session, workflow_ids: set[str]) -> dict[str, tuple[int, str]]:
    """The last unclaimed pending row (id, op) of each workflow id, if any."""
    found: dict[str, tuple[int, str]] = {}
    ids = sorted(workflow_ids)
    for i in range(0, len(ids), 500):
        rows = session.execute(
            select(Transition.id, Transition.workflow_id, Transition.op)
            .where(Transition.workflow_id.in_(ids[i : i + 500]))
            .where(Transition.status == PENDING)
            .order_by(Transition.id)
        )
        for rid, wid, op in rows:
            found[wid] = (rid, op)  # the newest wins
    return found


def start_row(kind: str, inp: Any, source: str | None) -> dict[str, Any]:
    """The outbox row that starts `kind` with `inp` (a dataclass of its input type)."""
    proc = BY_KIND[kind]
    fields = dataclasses.asdict(inp)
    return _row("start", kind, proc.workflow_id(fields), fields, fields.get("customer_id"), source)


def join_row(kind: str, inp: Any, signal: Any, source: str | None) -> dict[str, Any]:
    """The outbox row that starts `kind` with `inp` or, when its key runs, hands it the
    kind's join signal with `signal` (signal-with-start)."""
    proc = BY_KIND[kind]
    fields = dataclasses.asdict(inp)
    payload = {"input": fields, "signal": dataclasses.asdict(signal)}
    return _row("join", kind, proc.workflow_id(fields), payload, fields.get("customer_id"),
                source, proc.join_signal)  # fmt: skip


def signal_row(
    kind: str, workflow_id: str, name: str, payload: Any, customer_id: str | None, source: str
) -> dict[str, Any]:
    """The outbox row that sends signal `name` with `payload` (a dataclass) to a workflow."""
    return _row("signal", kind, workflow_id, dataclasses.asdict(payload), customer_id, source, name)


def add(session: Session, rows: list[dict[str, Any]], answer: bool = True) -> list[dict[str, Any]]:
    """Insert rows (one executemany); returns their public form (nothing when not `answer`)."""
    if rows:
        # Core executemany: every row has every column, so no per-row ORM bookkeeping
        session.execute(insert(TRANSITIONS), rows)
    # a population-run batch queues thousands and answers nobody (answer=False)
    return [public(r) for r in rows] if answer else []


def public(row: Mapping[str, Any] | Transition) -> dict[str, Any]:
    """The API form of a transition."""
    get = row.get if isinstance(row, Mapping) else lambda k: getattr(row, k)
    return {
        "transition_id": get("request_id"),
        "op": get("op"),
        "kind": get("kind"),
        "workflow_id": get("workflow_id"),
        "signal": get("signal"),
        "status": get("status"),
    }


def _comparable(payload: Mapping[str, Any]) -> dict[str, Any]:
    # the policy version is filled in by the workflow, not by the caller
    return {k: v for k, v in payload.items() if k != "policy_version"}


def same_input(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two start inputs are the same request."""
    return _comparable(a) == _comparable(b)


def last_start(session: Session, workflow_id: str) -> Transition | None:
    """The newest start queued or applied for a business key (failed ones do not count)."""
    return session.scalars(
        select(Transition)
        .where(Transition.workflow_id == workflow_id, Transition.op.in_(STARTS))
        .where(Transition.status.in_(LIVE))
        .order_by(Transition.id.desc())
        .limit(1)
    ).one_or_none()


def started_keys(session: Session, customer_id: str, kind: str) -> list[str]:
    """Business keys of `kind` started (or queued) for a customer, oldest first."""
    rows = session.scalars(
        select(Transition.workflow_id)
        .where(Transition.customer_id == customer_id, Transition.kind == kind)
        .where(Transition.op.in_(STARTS), Transition.status.in_(LIVE))
        .group_by(Transition.workflow_id)
        .order_by(func.min(Transition.id))
    )
    return list(rows)


def pending_of(session: Session, customer_id: str) -> list[dict[str, Any]]:
    """A customer's transitions not applied yet, in the order they will be applied."""
    rows = session.scalars(
        select(Transition)
        .where(Transition.customer_id == customer_id, Transition.status == PENDING)
        .order_by(Transition.id)
    )
    return [{**public(r), "attempts": r.attempts, "last_error": r.last_error} for r in rows]


@dataclass(frozen=True)
class Depth:
    """How far the relay is behind."""

    pending: int
    failed: int
    oldest_age_seconds: float


def depth(session: Session) -> Depth:
    """Pending and failed rows, and the age of the oldest pending one."""
    pending, oldest = session.execute(
        select(func.count(), func.min(Transition.created_at)).where(Transition.status == PENDING)
    ).one()
    failed = session.scalar(
        select(func.count()).select_from(Transition).where(Transition.status == "failed")
    )
    age = 0.0
    if oldest is not None:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        age = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
    return Depth(int(pending or 0), int(failed or 0), age)
