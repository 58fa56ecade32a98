"""Account managers away: their customers' new tasks fall back to the role queue, and the
open tasks they hold go back to it (paper 001: key accounts are never left waiting on an
absent manager)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import audit
from store.models import StaffAway, Task


def set_away(session: Session, principal: str, until: datetime, reason: str, actor: str) -> int:
    """Mark `principal` away until `until`; returns how many open tasks went back to their
    queue (caller commits)."""
    row = session.get(StaffAway, principal)
    if row is None:
        row = StaffAway(principal=principal)
        session.add(row)
    row.until, row.reason, row.set_by, row.set_at = until, reason, actor, datetime.now(UTC)
    tasks = session.scalars(
        select(Task).where(Task.assignee == principal, Task.status.in_(["open", "claimed"]))
    ).all()
    for task in tasks:
        task.assignee, task.status = None, "open"
        task.context = {**task.context, "routing": f"account manager {principal} away: role queue"}
    audit.append(
        session,
        actor=actor,
        action="manager.away",
        target=f"principal:{principal}",
        detail={
            "until": until.isoformat(),
            "reason": reason,
            "returned_to_queue": [t.task_id for t in tasks],
        },
    )
    return len(tasks)


def clear_away(session: Session, principal: str, actor: str) -> bool:
    """`principal` is back: new tasks reach them again; False when they were not away."""
    row = session.get(StaffAway, principal)
    if row is None:
        return False
    session.delete(row)
    audit.append(session, actor=actor, action="manager.back", target=f"principal:{principal}")
    return True
