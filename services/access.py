"""Object-level access: which customers and workflows a caller may read.

Roles decide which endpoints a caller reaches; this module decides which objects. The CRM,
supervisors and auditors (and admins) read every customer and workflow. Agents and
inspectors read only those they have a task for: one they hold, one unclaimed in their role
queue (they may take it, so they may see whose it is) or one they completed. API routes and
web pages ask the same functions, so a page never shows what the API would refuse.
"""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from services.tasks import visible
from store.credentials import Principal
from store.models import Task

READ_EVERYTHING = ("crm", "supervisor", "auditor")


def unrestricted(principal: Principal) -> bool:
    """True for roles that read every customer and workflow (admin holds every role)."""
    return principal.has(*READ_EVERYTHING)


def may_read_customer(db: Session, principal: Principal, customer_id: str) -> bool:
    """The caller may read this customer (its record, assignment and explanation)."""
    if unrestricted(principal):
        return True
    held = select(Task.task_id).where(Task.customer_id == customer_id, visible(principal))
    return bool(db.scalar(select(exists(held))))


def may_read_workflow(db: Session, principal: Principal, workflow_id: str) -> bool:
    """The caller may read this workflow's state and history."""
    if unrestricted(principal):
        return True
    held = select(Task.task_id).where(Task.workflow_id == workflow_id, visible(principal))
    return bool(db.scalar(select(exists(held))))
