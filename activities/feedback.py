"""The feedback loop (paper 004): what processes learn goes back into the customer record.

Hazards found and closed move `open_hazards`, theft cases `theft_records_24m`, outages carried
out `outage_count_12m` / `outage_minutes_12m`, satisfaction call-backs set `satisfaction`,
unreachable call-backs count in `unreachable_12m`. These fields are segflow-owned: a CRM
upsert never overwrites them (rules/ownership.py). Each update applies once per workflow id +
step (an activity retry changes nothing twice) and is audited; the next segmentation of the
customer reads the new values.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from store import audit
from store.models import AuditEntry, Customer
from workflows.activity_payloads import FeedbackUpdate

# the fields a process may change (counters are added to, the rest are set)
COUNTERS = frozenset(
    {"open_hazards", "theft_records_24m", "outage_count_12m", "outage_minutes_12m",
     "unreachable_12m"}
)  # fmt: skip
FIELDS = frozenset({"satisfaction"})


def apply(session: Session, req: FeedbackUpdate) -> int:
    """Apply the update unless this workflow step already did; returns customers changed."""
    key = audit.digest([req.workflow_id, req.step])[:64]
    seen = session.scalar(
        select(AuditEntry.seq).where(
            AuditEntry.action == "customer.feedback", AuditEntry.request_id == key
        )
    )
    if seen is not None:
        return 0
    changed: list[dict[str, Any]] = []
    for u in req.updates:
        row = session.get(Customer, u.customer_id)
        if row is None:
            continue
        for name, delta in u.deltas.items():
            if name in COUNTERS:
                value = max((getattr(row, name) or 0) + delta, 0)
                setattr(row, name, int(value) if name != "outage_minutes_12m" else float(value))
        for name, value in u.fields.items():
            if name in FIELDS:
                setattr(row, name, value)
        changed.append({"customer_id": u.customer_id, "deltas": u.deltas, "fields": u.fields})
    audit.append(
        session,
        actor="workflow",
        action="customer.feedback",
        target=f"workflow:{req.workflow_id}",
        request_id=key,
        detail={"step": req.step, "changes": changed},
    )
    return len(changed)


class FeedbackActivities:
    """The feedback activity bound to the store."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @activity.defn(name="apply_feedback")
    def apply_feedback(self, req: FeedbackUpdate) -> int:
        """Write what a process learnt back to the customers' records."""
        with self._sessions.begin() as s:
            return apply(s, req)

    def all(self) -> list[Any]:
        """Every activity of this class, for the worker."""
        return [self.apply_feedback]
