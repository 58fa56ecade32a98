"""Quarterly call-back (每季度电话回访): verify the contact record so outage notices arrive.

Workflow id: `callback:{customer_id}`, input CallbackInput, output ProcessResult. One run is
one cycle: wait, call, continue-as-new; history stays bounded however many years the
customer stays in the segment, and a plain cycle writes at most 20 history events.

- First cycle: the plan comes with the input (or is read once); the cycle waits a stable
  share of `first_cycle_spread` (hash of the customer id), so a population that enters the
  segment on one day is called over the whole period, not all on day one.
- Cycle: open a `callback_call` task for the representative queue (a local activity).
  Outcomes: `verified`; `contact_updated` (the new contacts are written back to the customer
  record); `unreachable` (wait `retry_after`, call again, up to `max_tries` calls, then an
  `onsite_visit` task). The completion is ONE step (local activity `callback_finish`: close
  the inbox row, write contacts back, read the next cycle's plan); the next run gets that
  plan and its wait (period + jitter) as input. A plan that no longer asks for call-backs
  ends the process.
- Timers: the wait (spread share or period), task escalation after `escalation.after`,
  the retry wait.
- Signals: `leave` (LeaveSignal: the customer left the segment), `cancel` (a supervisor
  ends it, reason recorded). Updates: `complete_task`. Queries: `state` (ProcessState).
- Search attributes: CustomerId / ProcessKind / PolicyVersion set once, carried across
  continue-as-new; Stage `scheduled` at the start of a run, `calling:N` when a task opens.
- End states: `left` (signal or strategy no longer asks), `cancelled`; continued-as-new.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes

with workflow.unsafe.imports_passed_through():
    from workflows.activity_payloads import CallbackFinish, PlanRequest
    from workflows.inputs import CallbackInput
    from workflows.outcomes import ProcessResult
    from workflows.process_base import CUSTOMER, KIND, POLICY, STAGE, ProcessBase
    from workflows.process_plans import CallbackPlan, CallbackTerms, Escalation
    from workflows.signals import LeaveSignal
    from workflows.task_payloads import TaskClose, TaskCompletion, TaskSpec
    from workflows.tasks import ACTIVITY_TIMEOUT

LOCAL_TIMEOUT = timedelta(seconds=20)


def stable_share(customer_id: str) -> float:
    """A number in [0, 1) from the customer id: the same on every replay and every worker."""
    digest = hashlib.sha256(customer_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@workflow.defn(name="callback")
class CallbackWorkflow(ProcessBase):
    """One call-back cycle per run; see the module docstring."""

    KIND = "callback"

    def __init__(self) -> None:
        super().__init__()
        self._leave: LeaveSignal | None = None
        self._tries = 0

    @workflow.signal(name="leave")
    def leave(self, signal: LeaveSignal) -> None:
        """The customer left the segment; finish at the next safe point."""
        self._leave = signal

    def _gone(self) -> bool:
        return self._leave is not None or self._cancel is not None

    @workflow.run
    async def run(self, inp: CallbackInput) -> ProcessResult:
        """Wait, call (retries, visit), continue as new with the next plan."""
        self._customer = inp.customer_id
        self._facts["cycle"] = inp.cycle
        plan = inp.plan
        if plan is None:  # a starter that did not hand the plan in
            plan = await workflow.execute_local_activity(
                "load_plan",
                PlanRequest(inp.customer_id, "callback"),
                result_type=CallbackPlan,
                start_to_close_timeout=LOCAL_TIMEOUT,
            )
        self._version = plan.policy_version
        self._stage = "scheduled"
        if inp.cycle == 0:  # later runs inherit them through continue-as-new
            workflow.upsert_search_attributes(self._attributes("scheduled"))
        if not plan.active:
            return await self._finish("left", reason=plan.reason or "strategy has no call-back")
        p = plan.params
        if inp.cycle == 0:
            wait = stable_share(inp.customer_id) * p.spread()
        else:
            wait = inp.first_delay_seconds
        await self._sleep(wait, self._gone)
        if self._gone():
            return await self._left()

        after: CallbackPlan | None = None  # the next plan, read by the step ending the cycle
        reached = False
        while self._tries < p.max_tries and not self._gone():
            self._tries += 1
            call = await self._call(inp, p, p.task.block(), f"call{self._tries}")
            if call is None:
                break
            if call[0].result["outcome"] != "unreachable":
                after, reached = call[1], True
                break
            if self._tries < p.max_tries:
                self._stage = "retry_wait"
                await self._sleep(p.retry_after_seconds, self._gone)
        if not reached and not self._gone():
            visit = await self._call(inp, p, p.after_max_tries.block(), "visit")
            after = visit[1] if visit else None
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._gone() or after is None:
            return await self._left()
        if not after.active:
            return await self._finish("left", reason=after.reason or "strategy has no call-back")
        return self._next_cycle(inp, after)

    def _attributes(self, stage: str) -> list[Any]:
        return [
            CUSTOMER.value_set(self._customer),
            KIND.value_set(self.KIND),
            POLICY.value_set(self._version),
            STAGE.value_set(stage),
        ]

    def _next_cycle(self, inp: CallbackInput, plan: CallbackPlan) -> ProcessResult:
        # the strategy's `every` (callback_every) wins over the process default period
        p = plan.params
        period = p.period()
        jitter = p.jitter_seconds
        wait = period + workflow.random().uniform(-jitter, jitter) / 2
        self._version = plan.policy_version
        attrs = TypedSearchAttributes(
            [SearchAttributePair(u.key, u.value) for u in self._attributes("scheduled")]
        )
        workflow.continue_as_new(
            CallbackInput(inp.customer_id, inp.cycle + 1, plan.policy_version, wait, plan),
            search_attributes=attrs,
        )

    async def _call(
        self, inp: CallbackInput, p: CallbackTerms, task: dict[str, Any], step: str
    ) -> tuple[TaskCompletion, CallbackPlan] | None:
        """One call or visit task: open, wait (escalate once), finish in one step."""
        spec = self._spec(f"c{inp.cycle}/{step}", task, {"cycle": inp.cycle, "try": self._tries})
        # registered before the inbox row exists: a completion sent as soon as the row shows
        # must not be refused as "not open"
        self._open[spec.task_id] = spec
        await workflow.execute_local_activity(
            "open_task", spec, start_to_close_timeout=LOCAL_TIMEOUT
        )
        self._set_stage(f"calling:{self._tries}" if step != "visit" else "onsite_visit")
        done = await self._wait(spec, p.escalation)
        if done is None:
            return None
        outcome = str(done.result["outcome"])
        self._facts.setdefault("outcomes", []).append(outcome)
        last = outcome != "unreachable" or step == "visit"
        plan: CallbackPlan = await workflow.execute_local_activity(
            "callback_finish",
            CallbackFinish(
                self.wid, inp.customer_id, spec.task_id, done.result, done.actor, read_plan=last
            ),
            result_type=CallbackPlan,
            start_to_close_timeout=LOCAL_TIMEOUT,
        )
        self._open.pop(spec.task_id, None)
        return done, plan

    async def _wait(self, spec: TaskSpec, escalation: Escalation | None) -> TaskCompletion | None:
        """The task's completion; None when the customer leaves or a supervisor cancels."""

        def done() -> bool:
            return spec.task_id in self._done or self._gone()

        if escalation:
            try:
                await workflow.wait_condition(
                    done, timeout=timedelta(seconds=max(escalation.after_seconds, 1.0))
                )
            except TimeoutError:
                await workflow.execute_local_activity(
                    "close_task",
                    TaskClose(spec.task_id, "escalated", queue=escalation.to_role),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                )
        await workflow.wait_condition(done)
        return self._done.get(spec.task_id)

    async def _left(self) -> ProcessResult:
        if self._cancel is not None:
            return await self._finish("cancelled")
        return await self._finish("left", reason=self._leave.reason if self._leave else "")
