"""The call-back cycle's store steps, one activity per step (run as local activities).

A call-back cycle used to spend an activity each on reading the plan, recording the cycle,
opening the task, closing it and writing contacts back, plus one workflow task per
activity in the history. Here the end of a call is ONE step: close the inbox row, write
confirmed contacts back and, at the end of the cycle, read the next cycle's plan. Each part
is idempotent (the row closes once, contacts merge, the plan is a read), so a retry of the
whole step changes nothing twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities import feedback
from activities.inbox import InboxActivities
from workflows.activity_payloads import (
    CallbackFinish,
    ContactUpdate,
    CustomerFeedback,
    FeedbackUpdate,
    PlanRequest,
)
from workflows.process_plans import CallbackPlan
from workflows.task_payloads import TaskClose


class CallbackActivities:
    """The call-back's combined steps, bound to the store."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._inbox = InboxActivities(sessions)
        self._sessions = sessions

    @activity.defn(name="callback_finish")
    def callback_finish(self, req: CallbackFinish) -> CallbackPlan:
        """Close the completed task, write contacts back, read the next plan if asked."""
        if req.task_id:
            self._inbox.close_task(TaskClose(req.task_id, "completed", req.result, req.actor))
        contacts = (req.result or {}).get("contacts")
        if contacts:
            self._inbox.update_contacts(
                ContactUpdate(req.customer_id, contacts, req.actor or "", req.workflow_id)
            )
        if (req.result or {}).get("outcome") == "unreachable":
            # feedback loop: unreachable call-backs count in the customer's channel data
            bump = CustomerFeedback(req.customer_id, {"unreachable_12m": 1})
            update = FeedbackUpdate(req.workflow_id, f"unreachable/{req.task_id}", [bump])
            with self._sessions.begin() as s:
                feedback.apply(s, update)
        if not req.read_plan:
            return CallbackPlan(True, "")
        plan = self._inbox.load_plan(PlanRequest(req.customer_id, "callback"))
        assert isinstance(plan, CallbackPlan)  # active or not (the customer is gone)
        return plan

    def all(self) -> list[Any]:
        """Every activity of this class, for the worker."""
        return [self.callback_finish]
