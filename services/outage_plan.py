"""The outage planning view (paper 002): before notices go out, the planner sees every
customer on the feeder, outage-sensitive ones first (then important ones, then by outage
minutes), with their outage counts and minutes in 12 months and what their strategy asks for
(pre-negotiation, notice channels and lead, outage archive); and the objections and
reschedule requests from pre-negotiation waiting for the planner (open `outage_plan_review`
tasks), which the planner answers by confirming or moving the outage."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from activities import policy_store
from rules.durations import is_duration, parse_duration
from store.models import Assignment, Customer, Task

COLUMNS = [
    "customer_id", "category", "sensitive", "outage_count_12m", "outage_minutes_12m",
    "pre_negotiation", "notice_channels", "notice_lead", "satisfaction_callback",
    "outage_archive", "satisfaction",
]  # fmt: skip


def feeder_plan(db: Session, feeder_id: str) -> dict[str, Any]:
    """The customers on `feeder_id` in planning order, and the planner's open reviews."""
    bundle = policy_store.active_bundle(db)
    defaults = bundle.processes.get("outage_notice", {})
    typed = bundle.outage_notice  # what the campaign acts on (rules/outage_params.py)
    rows = db.execute(
        select(Customer, Assignment)
        .join(Assignment, Assignment.customer_id == Customer.customer_id)
        .where(Customer.feeder_id == feeder_id, Customer.status == "active")
    ).all()
    customers: list[dict[str, Any]] = []
    for customer, row in rows:
        mine = (row.processes or {}).get("outage_notice", {})
        # the customer's terms exactly as the campaign (activities feeder_customers) reads them
        p = typed.for_customer(mine) if typed is not None else None
        own = mine.get("lead")  # the strategy's lead counts only as a positive duration
        own_ok = is_duration(own) and parse_duration(str(own)).total_seconds() > 0
        customers.append(
            {
                "customer_id": customer.customer_id,
                "category": row.category,
                "sensitive": "outage_sensitive" in (row.tags or []),
                "outage_count_12m": customer.outage_count_12m or 0,
                "outage_minutes_12m": float(customer.outage_minutes_12m or 0.0),
                "pre_negotiation": bool(p and p.pre_negotiation_required),
                "notice_channels": list(p.channels) if p else [],
                "notice_lead": own if own_ok else defaults.get("lead"),
                "satisfaction_callback": bool(p and p.satisfaction_callback_required),
                "outage_archive": bool((row.actions or {}).get("outage_archive")),
                "satisfaction": customer.satisfaction,
            }
        )
    customers.sort(
        key=lambda c: (not c["sensitive"], c["category"] != "important",
                       -c["outage_minutes_12m"], c["customer_id"])
    )  # fmt: skip
    reviews = [
        {
            "task_id": t.task_id,
            "workflow_id": t.workflow_id,
            "outage_id": t.context.get("outage_id"),
            "starts_at": t.context.get("starts_at"),
            "ends_at": t.context.get("ends_at"),
            "objections": t.context.get("objections", {}),
            "due_at": t.due_at,
        }
        for t in db.scalars(
            select(Task).where(
                Task.kind == "outage_plan_review",
                Task.status.in_(["open", "claimed"]),
                Task.workflow_id.like(f"outage:{feeder_id}:%"),
            )
        )
    ]
    return {
        "feeder_id": feeder_id,
        "customers": customers,
        "sensitive": sum(1 for c in customers if c["sensitive"]),
        "reviews": reviews,
    }
