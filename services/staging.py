"""Staged activation: a version applies first to a share of the customers (by a stable hash
of the customer id) or to a segment (a tag, category, ABC class or points tier under the
active version), compared with the rest, then widened or rolled back.

Members are pinned (`policy_pins`): their assignment is re-segmented under the staged version
and the process transitions that causes are queued in the outbox, in one transaction per
operation; single upserts of a pinned customer keep using the staged version, so its
explanation names that version. Widening pins more customers (a larger share keeps the
earlier ones: the hash is stable); rolling back re-segments the pinned customers under the
active version and removes the pins. One stage runs at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

import rules
from activities import customers as customer_store
from activities import policy_store
from services import outbox
from services.errors import Conflict, Invalid, Issue, NotFound
from store import audit
from store.models import Assignment, Customer, PolicyPin, PolicyStage, Task
from workflows.callback import stable_share

Engines = Callable[[rules.Bundle], rules.Engine]
DIMENSIONS = ("category", "abc_class", "tag", "points_tier")


def bundle_for(session: Session, customer_id: str) -> rules.Bundle | None:
    """The staged bundle a pinned customer is evaluated under (None: the active one)."""
    pin = session.get(PolicyPin, customer_id)
    return policy_store.bundle_of_version(session, pin.version) if pin else None


def _stage(session: Session, stage_id: int) -> PolicyStage:
    stage = session.get(PolicyStage, stage_id)
    if stage is None:
        raise NotFound("Not found", f"no stage {stage_id}")
    return stage


def _matches(stage: PolicyStage, row: Assignment | None, customer_id: str) -> bool:
    if stage.share is not None:
        return stable_share(customer_id) < stage.share
    if row is None:
        return False
    if stage.dimension == "tag":
        return stage.value in (row.tags or [])
    return str(getattr(row, str(stage.dimension), "")) == stage.value


def _pin(session: Session, engines: Engines, stage: PolicyStage, bundle: rules.Bundle) -> int:
    """Pin every active customer the stage covers and is not pinned yet; re-segment them
    under `bundle` and queue their transitions. Returns how many were pinned."""
    pinned = set(session.scalars(select(PolicyPin.customer_id)))
    current = {a.customer_id: a for a in session.scalars(select(Assignment))}
    rows = session.scalars(select(Customer).where(Customer.status == "active")).all()
    changes, count = [], 0
    for row in rows:
        cid = row.customer_id
        if cid in pinned or not _matches(stage, current.get(cid), cid):
            continue
        session.add(PolicyPin(customer_id=cid, version=stage.version, stage_id=stage.id))
        result, before = customer_store.assign(session, engines(bundle), bundle, row)
        changes.append(outbox.diff(cid, before and before["processes"], result.processes))
        count += 1
    outbox.queue_changes(session, changes, f"stage:{stage.id}")
    return count


def start(
    session: Session, engines: Engines, version: str, actor: str, *, share: float | None = None,
    dimension: str | None = None, value: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Stage `version` for a share or a segment; commits; the stage with its member count."""
    issues = []
    if (share is None) == (dimension is None):
        issues.append(Issue("share", "give either share or dimension and value", "choice"))
    if share is not None and not 0 < share <= 1:
        issues.append(Issue("share", "must be in (0, 1]", "range"))
    if dimension is not None and (dimension not in DIMENSIONS or not value):
        issues.append(Issue("dimension", f"one of {', '.join(DIMENSIONS)}, with a value"))
    if issues:
        raise Invalid("Invalid stage", issues=issues)
    try:
        bundle = policy_store.bundle_of_version(session, version)
    except KeyError:
        raise NotFound("Not found", f"no policy version {version}") from None
    active = policy_store.active_row(session)
    if active is not None and active.version == version:
        raise Conflict("Conflict", "the version is already active for everyone")
    if session.scalar(select(PolicyStage).where(PolicyStage.status == "running")) is not None:
        raise Conflict("Conflict", "another stage is running: widen or roll it back first")
    stage = PolicyStage(version=version, share=share, dimension=dimension, value=value,
                        status="running", created_by=actor)  # fmt: skip
    session.add(stage)
    session.flush()
    count = _pin(session, engines, stage, bundle)
    audit.append(session, actor=actor, action="policy.staged", target=f"policy:{version}",
                 policy_version=version, detail={"stage": stage.id, "share": share,
                 "dimension": dimension, "value": value, "pinned": count})  # fmt: skip
    session.commit()
    return view(session, stage.id)


def widen(
    session: Session, engines: Engines, stage_id: int, share: float, actor: str
) -> dict[str, Any]:
    """Raise a share stage's share (earlier members stay pinned); commits."""
    stage = _stage(session, stage_id)
    if stage.status != "running":
        raise Conflict("Conflict", f"stage {stage_id} is {stage.status}")
    if stage.share is None or not stage.share < share <= 1:
        raise Invalid("Invalid share", issues=[Issue("share", "must be above the current "
                                                     "share and at most 1", "range")])  # fmt: skip
    stage.share, stage.updated_at = share, datetime.now(UTC)
    count = _pin(session, engines, stage, policy_store.bundle_of_version(session, stage.version))
    audit.append(session, actor=actor, action="policy.stage_widened",
                 target=f"policy:{stage.version}", policy_version=stage.version,
                 detail={"stage": stage.id, "share": share, "pinned": count})  # fmt: skip
    session.commit()
    return view(session, stage_id)


def rollback(session: Session, engines: Engines, stage_id: int, actor: str) -> dict[str, Any]:
    """Re-segment the pinned customers under the active version and unpin them; commits."""
    stage = _stage(session, stage_id)
    if stage.status != "running":
        raise Conflict("Conflict", f"stage {stage_id} is {stage.status}")
    bundle = policy_store.active_bundle(session)
    ids = list(session.scalars(select(PolicyPin.customer_id).where(PolicyPin.stage_id == stage_id)))
    session.execute(delete(PolicyPin).where(PolicyPin.stage_id == stage_id))
    changes = []
    for row in session.scalars(select(Customer).where(Customer.customer_id.in_(ids))):
        result, before = customer_store.assign(session, engines(bundle), bundle, row)
        changes.append(
            outbox.diff(row.customer_id, before and before["processes"], result.processes)
        )
    outbox.queue_changes(session, changes, f"stage:{stage.id}:rollback")
    stage.status, stage.updated_at = "rolled_back", datetime.now(UTC)
    audit.append(session, actor=actor, action="policy.stage_rolled_back",
                 target=f"policy:{stage.version}", policy_version=stage.version,
                 detail={"stage": stage.id, "unpinned": len(ids)})  # fmt: skip
    session.commit()
    return view(session, stage_id)


def view(session: Session, stage_id: int) -> dict[str, Any]:
    """A stage and how many customers it pins."""
    stage = _stage(session, stage_id)
    pinned = session.scalar(
        select(func.count()).select_from(PolicyPin).where(PolicyPin.stage_id == stage_id)
    )
    return {"stage_id": stage.id, "version": stage.version, "share": stage.share,
            "dimension": stage.dimension, "value": stage.value, "status": stage.status,
            "created_by": stage.created_by, "created_at": stage.created_at.isoformat(),
            "pinned": int(pinned or 0)}  # fmt: skip


def compare(session: Session, stage_id: int) -> dict[str, Any]:
    """KPIs of the staged group and the rest since the stage started: customers, tasks
    opened per customer, tasks completed, on time (completed by the due time) and call-back
    reach (outcome other than unreachable)."""
    stage = _stage(session, stage_id)
    members = set(
        session.scalars(select(PolicyPin.customer_id).where(PolicyPin.stage_id == stage_id))
    )
    total = int(session.scalar(select(func.count()).select_from(Customer)
                               .where(Customer.status == "active")) or 0)  # fmt: skip
    groups: dict[str, dict[str, float]] = {
        g: {"customers": n, "tasks": 0, "completed": 0, "in_time": 0, "calls": 0, "reached": 0}
        for g, n in (("staged", len(members)), ("rest", max(total - len(members), 0)))
    }
    tasks = session.execute(select(Task.customer_id, Task.kind, Task.status, Task.result,
                                   Task.due_at, Task.completed_at)
                            .where(Task.created_at >= stage.created_at))  # fmt: skip
    for cid, kind, status, result, due, done in tasks:
        g = groups["staged" if cid in members else "rest"]
        g["tasks"] += 1
        if status == "completed":
            g["completed"] += 1
            g["in_time"] += int(done is not None and _aware(done) <= _aware(due))
            if kind == "callback_call":
                g["calls"] += 1
                g["reached"] += int((result or {}).get("outcome") != "unreachable")
    kpis = {}
    for name, g in groups.items():
        kpis[name] = {
            **g,
            "tasks_per_customer": round(g["tasks"] / g["customers"], 3) if g["customers"] else None,
            "completion": round(g["completed"] / g["tasks"], 3) if g["tasks"] else None,
            "on_time": round(g["in_time"] / g["completed"], 3) if g["completed"] else None,
            "callback_reach": round(g["reached"] / g["calls"], 3) if g["calls"] else None,
        }
    return {"stage": view(session, stage_id), "since": stage.created_at.isoformat(), "groups": kpis}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def running(session: Session) -> int | None:
    """The id of the running stage, if any."""
    return session.scalar(select(PolicyStage.id).where(PolicyStage.status == "running"))
