"""Planned outage notice for a feeder: pre-negotiation, point-to-point notices, call-backs.

Workflow id: `outage:{feeder_id}:{outage_id}`; input `OutageInput`, output `ProcessResult`.
No CustomerId search attribute (a feeder, not a customer); ProcessKind and Stage as usual.

- The customers on the feeder come from an activity, outage-sensitive (then important) ones
  first, each with its strategy's channels, lead time and flags (`outage_notice` parameters).
  The sensitive customers with their outage counts and minutes are recorded at the start.
- `outage_pre_negotiation` tasks for customers whose strategy asks for pre-negotiation,
  awaited until the first notice is due (then withdrawn).
- Objections and reschedule requests from pre-negotiation open an `outage_plan_review` task
  for the planner (process `outage_plan_review`), who confirms the outage or moves it (new
  start and end); the notices then carry the confirmed times.
- Notices: each customer's at `starts_at - lead` (at once, recorded `late`, when that has
  passed), over the customer's channels; confirmed deliveries per customer in `state`.
- After the outage every customer on the feeder gets +1 outage and its minutes (feedback loop);
  satisfaction call-back outcomes are written to the customer's `satisfaction`.
- After `ends_at + satisfaction_callback.after`: `outage_satisfaction_callback` tasks for the
  customers whose strategy asks for them (sensitive ones), withdrawn at their due time.
- Signals: `cancel` (CancelSignal: customers already notified get a cancellation notice).
  Updates: `complete_task`. Queries: `state`. Timers: notice times, the call-back delay, task
  due times.
- End states: `completed`, `cancelled`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.activity_payloads import (
        CustomerFeedback,
        FeederCustomer,
        FeederCustomers,
        FeederRequest,
    )
    from workflows.inputs import OutageInput
    from workflows.outcomes import ProcessResult
    from workflows.process_base import ProcessBase
    from workflows.process_plans import OneTaskPlan, OutagePlan, OutageTask
    from workflows.task_payloads import TaskSpec
    from workflows.tasks import ACTIVITY_TIMEOUT


OBJECTIONS = ("objection", "reschedule_requested")


@workflow.defn(name="outage")
class OutageWorkflow(ProcessBase):
    """One planned outage's notification campaign; see the module docstring."""

    KIND = "outage"

    @workflow.run
    async def run(self, inp: OutageInput) -> ProcessResult:
        """Negotiate, notify, and call back after the outage."""
        self._begin("")
        plan = await self._policy_plan("outage_notice", OutagePlan)
        self._pin(plan.policy_version)
        p = plan.params
        starts, ends = datetime.fromisoformat(inp.starts_at), datetime.fromisoformat(inp.ends_at)
        found: FeederCustomers = await workflow.execute_activity(
            "feeder_customers",
            FeederRequest(inp.feeder_id),
            result_type=FeederCustomers,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        customers = found.customers
        sensitive = [c for c in customers if c.sensitive]
        self._facts.update(
            {
                "feeder_id": inp.feeder_id,
                "outage_id": inp.outage_id,
                "customers": len(customers),
                "delivery": {},
            }
        )
        await self._step(
            "started",
            feeder_id=inp.feeder_id,
            starts_at=inp.starts_at,
            ends_at=inp.ends_at,
            customers=len(customers),
            sensitive=[
                {
                    "customer_id": c.customer_id,
                    "outage_count_12m": c.outage_count_12m,
                    "outage_minutes_12m": c.outage_minutes_12m,
                }
                for c in sensitive
            ],
        )

        def notice_at(c: FeederCustomer) -> datetime:
            return starts - timedelta(seconds=c.lead_seconds)

        first_notice = min((notice_at(c) for c in customers), default=starts)
        negotiate = [c for c in customers if c.pre_negotiation]
        if negotiate and p.pre_negotiation is not None:
            self._set_stage("pre_negotiation")
            outcomes = await self._tasks(
                negotiate,
                "negotiate",
                p.pre_negotiation.task,
                inp,
                (first_notice - workflow.now()).total_seconds(),
            )
            self._facts["pre_negotiation"] = outcomes
            await self._step("pre_negotiation", outcomes=outcomes)
            objections = {c: o for c, o in outcomes.items() if o in OBJECTIONS}
            if objections and workflow.patched("outage-plan-review"):
                starts, ends = await self._review(inp, objections, starts, ends)

        self._set_stage("notifying")
        order = {c.customer_id: i for i, c in enumerate(customers)}
        notified: list[FeederCustomer] = []
        for c in sorted(customers, key=lambda c: (notice_at(c), order[c.customer_id])):
            if await self._until(notice_at(c)):
                break  # cancelled
            sent = await self._notify(
                f"notice/{c.customer_id}",
                c.channels,
                "planned_outage",
                customer_id=c.customer_id,
                starts_at=self._facts.get("starts_at", inp.starts_at),
                ends_at=self._facts.get("ends_at", inp.ends_at),
                reason=inp.reason,
            )
            late = workflow.now() > notice_at(c)
            self._facts["delivery"][c.customer_id] = sent.delivered_channels
            notified.append(c)
            await self._step(
                "notice",
                customer_id=c.customer_id,
                late=late,
                delivered=sent.delivered_channels,
                failed=sent.failed_channels,
            )
        if self._cancel is None:
            self._set_stage("outage")
            after = p.satisfaction_callback.after_seconds if p.satisfaction_callback else 0.0
            await self._until(ends + timedelta(seconds=after))
        if self._cancel is not None:
            for c in notified:
                await self._notify(
                    f"cancelled/{c.customer_id}",
                    c.channels,
                    "outage_cancelled",
                    customer_id=c.customer_id,
                )
            return await self._finish("cancelled", notified=len(notified))

        minutes = (ends - starts).total_seconds() / 60
        await self._feedback(
            "outage_counted",
            *(CustomerFeedback(c.customer_id,
                               {"outage_count_12m": 1, "outage_minutes_12m": minutes})
              for c in customers),
        )  # fmt: skip
        callers = [c for c in customers if c.satisfaction_callback]
        if callers and p.satisfaction_callback is not None:
            self._set_stage("satisfaction_callbacks")
            task = p.satisfaction_callback.task
            outcomes = await self._tasks(callers, "satisfaction", task, inp, task.due_seconds)
            self._facts["satisfaction"] = outcomes
            await self._step("satisfaction_callbacks", outcomes=outcomes)
            await self._feedback(
                "satisfaction",
                *(CustomerFeedback(cid, fields={"satisfaction": o}) for cid, o in outcomes.items()
                  if o not in ("no_answer", "unreachable")),
            )  # fmt: skip
        if self._cancel is not None:
            return await self._finish("cancelled", notified=len(notified))
        return await self._finish("completed", notified=len(notified))

    async def _review(
        self,
        inp: OutageInput,
        objections: dict[str, str],
        starts: datetime,
        ends: datetime,
    ) -> tuple[datetime, datetime]:
        """Objections and reschedule requests reach the planner, who confirms or moves the
        outage; the notices that follow use the confirmed times."""
        review = await self._policy_plan("outage_plan_review", OneTaskPlan, self._version)
        if not review.active:
            return starts, ends
        task = review.params.task
        self._set_stage("plan_review")
        spec = self._spec(
            "plan_review",
            task.block(),
            {
                "feeder_id": inp.feeder_id,
                "outage_id": inp.outage_id,
                "starts_at": starts.isoformat(),
                "ends_at": ends.isoformat(),
                "objections": objections,
            },
        )
        spec.customer_id = next(iter(objections))
        done = await self._task(spec, timeout=task.due_seconds)
        if done is None or done.result["outcome"] != "moved":
            await self._step("plan_confirmed", objections=objections,
                             actor=done.actor if done else "timeout")  # fmt: skip
            return starts, ends
        new_starts = datetime.fromisoformat(done.result["starts_at"])
        new_ends = datetime.fromisoformat(done.result["ends_at"])
        self._facts.update({"starts_at": new_starts.isoformat(), "ends_at": new_ends.isoformat()})
        await self._step(
            "plan_moved",
            starts_at=new_starts.isoformat(),
            ends_at=new_ends.isoformat(),
            objections=objections,
            actor=done.actor,
        )
        return new_starts, new_ends

    async def _tasks(
        self,
        customers: list[FeederCustomer],
        step: str,
        task: OutageTask,
        inp: OutageInput,
        timeout: float,
    ) -> dict[str, str]:
        """One task per customer, awaited together up to `timeout`; the rest withdrawn."""
        specs: list[TaskSpec] = []
        for c in customers:
            spec = self._spec(
                f"{step}/{c.customer_id}",
                task.block(),
                {
                    "feeder_id": inp.feeder_id,
                    "outage_id": inp.outage_id,
                    "starts_at": inp.starts_at,
                    "ends_at": inp.ends_at,
                },
            )
            spec.customer_id = c.customer_id
            await self._open_task(spec)
            specs.append(spec)
        done = await asyncio.gather(
            *(self._await_task(s, timeout=max(timeout, 1.0)) for s in specs)
        )
        outcomes: dict[str, str] = {}
        for c, spec, completion in zip(customers, specs, done, strict=True):
            if completion is None:
                await self._drop_task(spec.task_id, "time is up")
                outcomes[c.customer_id] = "no_answer"
            else:
                outcomes[c.customer_id] = str(completion.result["outcome"])
        return outcomes
