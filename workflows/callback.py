"""Quarterly call-back (每季度电话回访): verify the contact record so outage notices arrive.

Workflow id: `callback:{customer_id}`. One run is one cycle; it continues-as-new for the next,
so history stays bounded however many years the customer stays in the segment.

- Cycle: read the plan (activity; the customer's current strategy under the active policy).
  If the strategy no longer asks for call-backs, end. Otherwise open a `callback_call` task for
  the representative queue. Outcomes: `verified`; `contact_updated` (the new contacts are
  written back to the customer record); `unreachable` (wait `retry_after`, call again, up to
  `max_tries` calls, then an `onsite_visit` task for the account manager).
- Timers: `first_delay` (jittered start offset), task escalation after `escalate_after`,
  retry wait, the period until the next cycle (plus a deterministic jitter).
- Signals: `leave` (customer left the segment: end at the next safe point, open tasks are
  cancelled); `cancel` (CancelRequest: a supervisor ends it, reason recorded).
- Updates: `complete_task` (from HumanTasks). Queries: `state`.
- End states: completed "left" (signal or strategy no longer asks); continued-as-new.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from workflows.payloads import (
        SA_CUSTOMER,
        SA_KIND,
        SA_POLICY,
        SA_STAGE,
        CallbackInput,
        CallbackState,
        CancelRequest,
        ContactUpdate,
        LeaveSignal,
        PlanRequest,
        ProcessPlan,
        StepRecord,
        TaskSpec,
    )
    from workflows.tasks import ACTIVITY_TIMEOUT, HumanTasks, task_id_for

STAGE = SearchAttributeKey.for_keyword(SA_STAGE)
POLICY = SearchAttributeKey.for_keyword(SA_POLICY)
CUSTOMER = SearchAttributeKey.for_keyword(SA_CUSTOMER)
KIND = SearchAttributeKey.for_keyword(SA_KIND)


@workflow.defn(name="callback")
class CallbackWorkflow(HumanTasks):
    """One call-back cycle per run; see the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self._input: CallbackInput | None = None
        self._leave: LeaveSignal | None = None
        self._tries = 0
        self._outcomes: list[str] = []
        self._version = ""

    @workflow.signal(name="leave")
    def leave(self, signal: LeaveSignal) -> None:
        """The customer left the segment; finish at the next safe point."""
        self._leave = signal

    @workflow.signal(name="cancel")
    def cancel(self, req: CancelRequest) -> None:
        """A supervisor cancels the process; ends like `leave`, with the reason recorded."""
        self._leave = LeaveSignal(f"cancelled by {req.actor}: {req.reason}")

    @workflow.query(name="state")
    def state(self) -> CallbackState:
        """Where the cycle stands."""
        inp = self._input
        return CallbackState(
            customer_id=inp.customer_id if inp else "",
            cycle=inp.cycle if inp else 0,
            stage=self._stage,
            policy_version=self._version,
            tries=self._tries,
            open_tasks=sorted(self._open),
            outcomes=list(self._outcomes),
        )

    def _set_stage(self, stage: str) -> None:
        self._stage = stage
        workflow.upsert_search_attributes([STAGE.value_set(stage)])

    async def _end(self, customer_id: str, reason: str) -> str:
        self._set_stage("ended")
        wid = workflow.info().workflow_id
        await self.cancel_open_tasks(wid, reason)
        await self.record(StepRecord(wid, customer_id, "ended", detail={"reason": reason}))
        return f"ended: {reason}"

    @workflow.run
    async def run(self, inp: CallbackInput) -> str:
        """Run one cycle, then continue as new for the next one."""
        self._input = inp
        wid = workflow.info().workflow_id
        workflow.upsert_search_attributes(
            [CUSTOMER.value_set(inp.customer_id), KIND.value_set("callback")]
        )
        if inp.first_delay_seconds > 0:
            self._set_stage("scheduled")
            await self._sleep_or_leave(inp.first_delay_seconds)
        if self._leave:
            return await self._end(inp.customer_id, self._leave.reason)

        plan: ProcessPlan = await workflow.execute_activity(
            "load_plan",
            PlanRequest(inp.customer_id, "callback"),
            result_type=ProcessPlan,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        self._version = plan.policy_version
        workflow.upsert_search_attributes([POLICY.value_set(plan.policy_version)])
        if not plan.active:
            return await self._end(inp.customer_id, plan.reason or "strategy has no call-back")
        p = plan.params
        await self.record(
            StepRecord(
                wid,
                inp.customer_id,
                "cycle_started",
                policy_version=plan.policy_version,
                detail={"cycle": inp.cycle},
            )
        )

        reached = False
        while self._tries < int(p["max_tries"]) and not self._leave:
            self._tries += 1
            self._set_stage(f"calling:{self._tries}")
            outcome = await self._task(inp, plan, p["task"], f"call{self._tries}")
            if outcome is None:
                break
            if outcome != "unreachable":
                reached = True
                break
            if self._tries < int(p["max_tries"]):
                self._set_stage("retry_wait")
                await self._sleep_or_leave(float(p["retry_after_seconds"]))
        if not reached and not self._leave:
            self._set_stage("onsite_visit")
            await self._task(inp, plan, p["after_max_tries"], "visit")
        if self._leave:
            return await self._end(inp.customer_id, self._leave.reason)

        self._set_stage("waiting_next_cycle")
        # the strategy's `every` (callback_every) wins over the process default period
        period = float(p.get("every_seconds") or p["period_seconds"])
        jitter = float(p.get("jitter_seconds", 0.0))
        await self._sleep_or_leave(period + workflow.random().uniform(-jitter, jitter) / 2)
        if self._leave:
            return await self._end(inp.customer_id, self._leave.reason)
        workflow.continue_as_new(CallbackInput(inp.customer_id, inp.cycle + 1, plan.policy_version))

    async def _task(
        self, inp: CallbackInput, plan: ProcessPlan, task: dict[str, Any], step: str
    ) -> str | None:
        """One call or visit task (`task` is the policy's {kind|task, assignee_role, due})."""
        wid = workflow.info().workflow_id
        escalation = plan.params["escalation"]
        spec = TaskSpec(
            task_id=task_id_for(wid, f"c{inp.cycle}/{step}"),
            workflow_id=wid,
            kind=str(task.get("kind") or task["task"]),
            customer_id=inp.customer_id,
            queue=str(task["assignee_role"]),
            due_in_seconds=float(task["due_seconds"]),
            context={"cycle": inp.cycle, "try": self._tries},
            policy_version=plan.policy_version,
        )
        done = await self.run_task(
            spec,
            escalate_after=float(escalation["after_seconds"]),
            escalate_to=str(escalation["to_role"]),
            interrupt=lambda: self._leave is not None,
        )
        if done is None:
            return None
        outcome = str(done.result["outcome"])
        self._outcomes.append(outcome)
        if "contacts" in done.result:
            await workflow.execute_activity(
                "update_contacts",
                ContactUpdate(inp.customer_id, done.result["contacts"], done.actor, wid),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
            )
        return outcome

    async def _sleep_or_leave(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._leave is not None, timeout=timedelta(seconds=max(seconds, 1.0))
            )
