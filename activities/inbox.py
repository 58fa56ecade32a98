"""Temporal activities of the inbox, plans and audit: the workflows' only door to the store.

Each activity is idempotent by its key (task id = workflow id + step), so a retry after a
worker crash never opens a second task or writes a second record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import policy_store
from activities.feedback import FeedbackActivities
from activities.process_plans import TYPED, inactive
from activities.routing import route
from store import audit, db
from store.models import (
    Assignment,
    AuditEntry,
    Customer,
    OutboxMessage,
    PolicyVersion,
    Task,
)
from workflows.activity_payloads import ContactUpdate, PlanRequest, StepRecord
from workflows.catalogue import BY_STRATEGY as SEGMENT_PROCESSES
from workflows.process_plans import TypedPlan
from workflows.task_payloads import CancelTasks, TaskClose, TaskSpec


def plan_facts(customer: Customer, row: Assignment) -> dict[str, Any]:
    """The customer facts a process may branch on (no names or contact details)."""
    return {
        "category": row.category,
        "abc_class": row.abc_class,
        "tags": list(row.tags),
        "actions": row.actions,
        "life_support": customer.life_support,
        "prepaid_meter": customer.prepaid_meter,
        "feeder_id": customer.feeder_id,
        "backup_power_compliant": customer.backup_power_compliant,
    }


class InboxActivities:
    """Activities bound to a session factory (created once per worker)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._reads = db.read_sessions(sessions)  # no write lock for a plan read (SQLite)

    @activity.defn(name="load_plan")
    def load_plan(self, req: PlanRequest) -> TypedPlan:
        """The process's typed plan from the customer's current strategy and the policy."""
        if req.process not in TYPED:  # a workflow asking for no process of ours: a bug
            raise ApplicationError(f"no typed plan for {req.process!r}", non_retryable=True)
        with self._reads() as s:
            customer = s.get(Customer, req.customer_id)
            row = s.get(Assignment, req.customer_id)
            if customer is None or customer.status != "active" or row is None:
                return inactive(req.process, row.policy_version if row else "", "customer gone")
            version = s.get(PolicyVersion, row.policy_version)
            if version is None:
                return inactive(req.process, row.policy_version, "policy version unknown")
            if req.process in SEGMENT_PROCESSES and req.process not in row.processes:
                why = f"strategy no longer asks for {req.process}"
                return inactive(req.process, row.policy_version, why)
            bundle = policy_store.bundle_of(version)
            # typed parameters, checked when the bundle loaded, with the strategy's overrides
            overrides = row.processes.get(req.process, {})
            return TYPED[req.process](bundle, overrides, plan_facts(customer, row))

    @activity.defn(name="open_task")
    def open_task(self, spec: TaskSpec) -> str:
        """Create the inbox row unless it exists (activity retries are harmless)."""
        with self._sessions.begin() as s:
            if s.get(Task, spec.task_id) is not None:
                return spec.task_id
            bundle = (
                policy_store.bundle_of_version(s, spec.policy_version)
                if spec.policy_version
                else policy_store.active_bundle(s)
            )
            # the customer's strategy decides who gets it and where it ranks
            to = route(s, bundle.processes.get("routing", {}), spec.customer_id, spec.queue)
            s.add(
                Task(
                    task_id=spec.task_id,
                    workflow_id=spec.workflow_id,
                    kind=spec.kind,
                    customer_id=spec.customer_id,
                    assignee=spec.assignee or to.assignee,
                    queue=spec.queue,
                    title=spec.title,
                    context={**spec.context, **to.context},
                    due_at=datetime.now(UTC) + timedelta(seconds=spec.due_in_seconds),
                    policy_version=spec.policy_version,
                    priority=to.priority,
                )
            )
            audit.append(
                s,
                actor="workflow",
                action="task.opened",
                target=f"task:{spec.task_id}",
                customer_id=spec.customer_id,
                policy_version=spec.policy_version,
                detail={
                    "workflow_id": spec.workflow_id,
                    "kind": spec.kind,
                    "queue": spec.queue,
                    "assignee": spec.assignee or to.assignee,
                    "priority": to.priority,
                },
            )
        return spec.task_id

    @activity.defn(name="close_task")
    def close_task(self, req: TaskClose) -> None:
        """Record a completion, or move a late task to the escalation queue."""
        with self._sessions.begin() as s:
            task = s.get(Task, req.task_id)
            if task is None:
                return
            if req.status == "escalated":
                if task.status in ("open", "claimed") and task.queue != req.queue:
                    task.queue = req.queue or task.queue
                    task.assignee = None
                    task.context = {**task.context, "escalated": True}
                    audit.append(
                        s,
                        actor="workflow",
                        action="task.escalated",
                        target=f"task:{task.task_id}",
                        customer_id=task.customer_id,
                        detail={"queue": req.queue},
                    )
                return
            if task.status == "completed":
                return  # the API already projected the completion
            task.status = req.status
            task.result = req.result
            task.completed_by = req.actor
            task.completed_at = datetime.now(UTC)

    @activity.defn(name="cancel_tasks")
    def cancel_tasks(self, req: CancelTasks) -> int:
        """Cancel every task the ending workflow still has open."""
        with self._sessions.begin() as s:
            result = s.execute(
                update(Task)
                .where(Task.workflow_id == req.workflow_id, Task.status.in_(["open", "claimed"]))
                .values(status="cancelled", result={"reason": req.reason})
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    @activity.defn(name="record_step")
    def record_step(self, step: StepRecord) -> None:
        """One workflow step in the audit log, once per workflow + step + detail."""
        # "step:" cannot appear in a client's X-Request-Id (plain ids only), so no request
        # can pose as a recorded step and suppress it
        key = "step:" + audit.digest([step.workflow_id, step.step, step.detail])
        with self._sessions.begin() as s:
            seen = s.scalar(
                select(AuditEntry.seq).where(
                    AuditEntry.target == f"workflow:{step.workflow_id}",
                    AuditEntry.request_id == key[:64],
                )
            )
            if seen is not None:
                return
            audit.append(
                s,
                actor=step.actor,
                action=f"workflow.{step.step}",
                target=f"workflow:{step.workflow_id}",
                customer_id=step.customer_id,
                request_id=key[:64],
                policy_version=step.policy_version,
                detail=step.detail,
            )

    @activity.defn(name="update_contacts")
    def update_contacts(self, req: ContactUpdate) -> None:
        """Write confirmed contact details back to the customer record and send them to the
        CRM (feedback loop: contacts stay CRM-owned)."""
        with self._sessions.begin() as s:
            customer = s.get(Customer, req.customer_id)
            if customer is None:
                return
            merged = {**(customer.contacts or {}), **req.contacts}
            if merged == customer.contacts:
                return
            before = audit.digest(customer.contacts)
            customer.contacts = merged
            # the CRM owns contacts: the correction goes back to it through its adapter (the
            # recording adapter keeps it in the outbox, keyed so a retry adds nothing)
            key = f"{req.workflow_id}|contact_update|{audit.digest(req.contacts)[:16]}"
            if s.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key)) is None:
                payload = {"contacts": req.contacts, "actor": req.actor}
                s.add(
                    OutboxMessage(key=key, adapter="crm", action="contact_update",
                                  customer_id=req.customer_id, workflow_id=req.workflow_id,
                                  payload=payload)
                )  # fmt: skip
            audit.append(
                s,
                actor=req.actor,
                action="customer.contacts_updated",
                target=f"customer:{req.customer_id}",
                customer_id=req.customer_id,
                detail={
                    "workflow_id": req.workflow_id,
                    "before": before,
                    "after": audit.digest(merged),
                },
            )

    def all(self) -> list[Any]:
        """Every activity of this class, for the worker."""
        return [
            self.load_plan,
            self.open_task,
            self.close_task,
            self.cancel_tasks,
            self.record_step,
            self.update_contacts,
            *FeedbackActivities(self._sessions).all(),
        ]
