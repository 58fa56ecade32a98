"""Inbox routing: who gets a process's task, and where it ranks, from the customer's strategy.

Paper 001's key-account service: a named account manager (the record's
`contacts.account_manager`) takes the customer's tasks when the strategy sets
`account_manager`, for the role queues the policy's `routing.manager_queues` names; when no
manager is named, or the manager is away (`staff_away`), the task stays in its role queue (the
fallback) and says why. `priority_call_routing`, `green_channel` and the points tier's
`fast_lane` raise the task's inbox priority (the highest of `routing.priority` applies);
`service_channel` is shown on the task. The response SLA itself comes from each process's
parameters (the strategy's value, else the policy default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from store.models import Assignment, Customer, StaffAway

PRIORITY_FLAGS = ("priority_call_routing", "green_channel", "fast_lane")


@dataclass
class Route:
    """Where a task goes: an assignee (or None = the role queue), its priority, and the
    facts the inbox shows about the routing."""

    assignee: str | None = None
    priority: int = 0
    context: dict[str, Any] = field(default_factory=dict)


def away(session: Session, principal: str, now: datetime | None = None) -> bool:
    """Whether `principal` is away now."""
    row = session.get(StaffAway, principal)
    if row is None:
        return False
    until = row.until if row.until.tzinfo else row.until.replace(tzinfo=UTC)
    return until > (now or datetime.now(UTC))


def route(session: Session, routing: dict[str, Any], customer_id: str, queue: str) -> Route:
    """The route of a task for `customer_id` that its process puts in `queue`."""
    customer = session.get(Customer, customer_id)
    row = session.get(Assignment, customer_id)
    if customer is None or row is None:
        return Route()
    actions: dict[str, Any] = row.actions or {}
    weights: dict[str, Any] = routing.get("priority") or {}
    flags = [f for f in PRIORITY_FLAGS if actions.get(f)]
    out = Route(priority=max((int(weights.get(f, 0)) for f in flags), default=0))
    if flags:
        out.context["priority_by"] = flags
    if actions.get("green_channel"):
        out.context["green_channel"] = True
    if actions.get("service_channel"):
        out.context["service_channel"] = actions["service_channel"]
    if not actions.get("account_manager") or queue not in (routing.get("manager_queues") or []):
        return out
    manager = (customer.contacts or {}).get("account_manager")
    if not manager:
        out.context["routing"] = "no named account manager: role queue"
    elif away(session, str(manager)):
        out.context["routing"] = f"account manager {manager} away: role queue"
        out.context["account_manager"] = manager
    else:
        out.assignee = str(manager)
        out.context["routing"] = "named account manager"
        out.context["account_manager"] = manager
    return out
