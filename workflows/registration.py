"""Review of a life-support / medical registration before its certificate expires.

Workflow id: `registration:{registration_id}`; input `RegistrationReviewInput`.
- Timer: until `review_ahead_seconds` before the end of `valid_to` (UTC), then a supervisor
  `registration_review` task (renewed with a new end, or ended). An expired registration still
  protects the customer from disconnection until this review decides (the check at the moment
  treats it so); the decision is applied by the `apply_registration_review` activity, which
  also tells the customer's running arrears ladder.
- Signals: `reviewed` (RegistrationReviewed: decided through the API instead; the task is
  withdrawn). Updates: `complete_task`. Queries: `state`.
- A renewal continues as new with the new end; `ended` finishes the workflow.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.arrears_payloads import (
        ProtectionChanged,
        RegistrationReviewed,
        RegistrationReviewInput,
        ReviewDecision,
    )
    from workflows.outcomes import ProcessResult
    from workflows.process_base import ProcessBase
    from workflows.tasks import ACTIVITY_TIMEOUT


@workflow.defn(name="registration_review")
class RegistrationReviewWorkflow(ProcessBase):
    """One registration's review cycle; see the module docstring."""

    KIND = "registration_review"

    def __init__(self) -> None:
        super().__init__()
        self._reviewed: RegistrationReviewed | None = None

    @workflow.signal(name="reviewed")
    def reviewed(self, signal: RegistrationReviewed) -> None:
        """The review was decided through the API."""
        self._reviewed = signal

    @workflow.run
    async def run(self, inp: RegistrationReviewInput) -> ProcessResult:
        """Wait, open the review task, apply its decision."""
        self._begin(inp.customer_id)
        self._facts.update({"registration_id": inp.registration_id, "valid_to": inp.valid_to})
        end = datetime.fromisoformat(inp.valid_to).replace(tzinfo=UTC) + timedelta(days=1)
        review_at = end - timedelta(seconds=inp.review_ahead_seconds)
        self._set_stage("waiting")
        if await self._until(review_at, lambda: self._reviewed is not None):
            return await self._decided(inp)
        self._set_stage("review")
        block = {"task": "registration_review", "assignee_role": "supervisor"}
        spec = self._spec(
            f"review:{inp.valid_to}",
            block,
            {"registration_id": inp.registration_id, "kind": inp.kind, "valid_to": inp.valid_to},
        )
        done = await self._task(spec, wake=lambda: self._reviewed is not None)
        if done is None:
            await self._drop_task(spec.task_id, "decided through the API")
            return await self._decided(inp)
        decision = ReviewDecision(
            inp.registration_id,
            str(done.result["outcome"]),
            str(done.result.get("valid_to", "")),
            done.actor,
        )
        await workflow.execute_activity(
            "apply_registration_review", decision, start_to_close_timeout=ACTIVITY_TIMEOUT
        )
        self._reviewed = RegistrationReviewed(decision.outcome, decision.valid_to)
        return await self._decided(inp)

    async def _decided(self, inp: RegistrationReviewInput) -> ProcessResult:
        if self._cancel is not None:
            return await self._finish("cancelled")
        reviewed = self._reviewed
        assert reviewed is not None
        await self._step("reviewed", outcome=reviewed.outcome, valid_to=reviewed.valid_to)
        ladder = workflow.get_external_workflow_handle(f"arrears:{inp.customer_id}")
        change = ProtectionChanged(inp.kind, reviewed.outcome == "renewed", inp.registration_id)
        with contextlib.suppress(Exception):  # no running ladder: nothing to tell
            await ladder.signal("protection_changed", change)
        if reviewed.outcome == "renewed" and reviewed.valid_to:
            workflow.continue_as_new(
                RegistrationReviewInput(
                    inp.registration_id,
                    inp.customer_id,
                    inp.kind,
                    reviewed.valid_to,
                    inp.review_ahead_seconds,
                )
            )
        return await self._finish(reviewed.outcome)
