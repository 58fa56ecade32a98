"""Key accounts: periodic visit work orders and the service-request response SLA.

`visit` (id `visit:{customer_id}`, input `VisitInput`): one cycle per run, continue-as-new.
Each cycle reads the plan; it ends when the customer's strategy sets no `visit_every`.
Otherwise (after a jittered first delay) a `key_account_visit` task for the account manager,
escalated after `escalation.after`; the result is recorded and written back to the CRM; then
it sleeps `visit_every` (plus jitter) and continues as new.
Signals: `leave` (LeaveSignal), `cancel` (CancelSignal). Updates: `complete_task`.
Queries: `state`. Timers: first delay, escalation, the period. End states: `left`, `cancelled`,
continued-as-new.

`service_request` (id `service_request:{customer_id}:{request_id}`, input
`ServiceRequestInput`): a `service_request` task due within the SLA (`response_sla_hours`,
the strategy's value for key accounts, else the policy default); at `warn_at` of the SLA a
warning is recorded and sent to the CRM; at breach the task is escalated to
`escalation.to_role` and the breach recorded; the answer records `met` or `breached` with
the elapsed time. When the customer's strategy sets `proactive_service`, a
`service_follow_up` call task follows the answer and its outcome is recorded.
Signals: `cancel`. Updates: `complete_task`. Queries: `state`. Timers: warning, breach.
End states: `met`, `breached`, `cancelled`, `not_applicable` (customer gone).
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.inputs import ServiceRequestInput, VisitInput
    from workflows.outcomes import ProcessResult
    from workflows.process_base import ProcessBase
    from workflows.process_plans import OneTaskPlan, ServiceRequestPlan, VisitPlan
    from workflows.signals import LeaveSignal
    from workflows.task_payloads import TaskClose
    from workflows.tasks import ACTIVITY_TIMEOUT

HOUR = 3600.0  # unit conversion of response_sla_hours


@workflow.defn(name="visit")
class VisitWorkflow(ProcessBase):
    """One key-account visit cycle per run; see the module docstring."""

    KIND = "visit"

    def __init__(self) -> None:
        super().__init__()
        self._leave: LeaveSignal | None = None

    @workflow.signal(name="leave")
    def leave(self, signal: LeaveSignal) -> None:
        """The strategy no longer asks for visits; end at the next safe point."""
        self._leave = signal

    def _gone(self) -> bool:
        return self._leave is not None

    @workflow.run
    async def run(self, inp: VisitInput) -> ProcessResult:
        """One cycle: visit task, record, sleep, continue as new."""
        self._begin(inp.customer_id)
        self._facts["cycle"] = inp.cycle
        if inp.first_delay_seconds > 0:
            self._set_stage("scheduled")
            await self._sleep(inp.first_delay_seconds, self._gone)
        if self._gone() or self._cancel:
            return await self._left()
        plan = await self._typed_plan("key_account_visit", VisitPlan)
        every = plan.params.customer.get("actions", {}).get("visit_every")
        if not plan.active or not every:
            return await self._finish("left", reason=plan.reason or "strategy sets no visit_every")
        p = plan.params
        self._set_stage("visit")
        escalation = p.escalation
        spec = self._spec(f"c{inp.cycle}/visit", p.task.block(), {"cycle": inp.cycle})
        done = await self._task(
            spec,
            wake=self._gone,
            escalate=(escalation.after_seconds, escalation.to_role) if escalation else None,
        )
        if done is not None:
            result = done.result
            await self._step("visit", cycle=inp.cycle, outcome=result["outcome"], actor=done.actor)
            await self._external(f"c{inp.cycle}/visit", "crm", "visit_result", **result)
        if self._gone() or self._cancel:
            return await self._left()
        self._set_stage("waiting_next_cycle")
        jitter = p.jitter_seconds
        period = p.visit_every_seconds
        await self._sleep(period + workflow.random().uniform(-jitter, jitter) / 2, self._gone)
        if self._gone() or self._cancel:
            return await self._left()
        workflow.continue_as_new(VisitInput(inp.customer_id, inp.cycle + 1, self._version))

    async def _left(self) -> ProcessResult:
        if self._cancel is not None:
            return await self._finish("cancelled")
        return await self._finish("left", reason=self._leave.reason if self._leave else "")


@workflow.defn(name="service_request")
class ServiceRequestWorkflow(ProcessBase):
    """One key-account request under its response SLA; see the module docstring."""

    KIND = "service_request"

    @workflow.run
    async def run(self, inp: ServiceRequestInput) -> ProcessResult:
        """Open the request task; warn, escalate at breach; record met / breached."""
        self._begin(inp.customer_id)
        plan = await self._typed_plan("service_request", ServiceRequestPlan)
        if not plan.active:  # the customer is gone (the dict plan failed here on a KeyError)
            return await self._finish("not_applicable", reason=plan.reason)
        p = plan.params
        sla = p.response_sla_hours * HOUR
        warn = sla * p.warn_at
        started = workflow.now()
        self._facts.update({"request_id": inp.request_id, "sla_seconds": sla})
        await self._step(
            "received", request_id=inp.request_id, subject=inp.subject, sla_seconds=sla
        )
        spec = self._spec(
            "response",
            p.task.block(),
            {"request_id": inp.request_id, "subject": inp.subject},
            due_seconds=sla,
        )
        await self._open_task(spec)
        self._set_stage("open")
        done = await self._await_task(spec, timeout=warn)
        if done is None and self._cancel is None:
            self._set_stage("warning")
            await self._step("sla_warning", elapsed_seconds=warn)
            await self._external("sla_warning", "crm", "sla_warning", request_id=inp.request_id)
            done = await self._await_task(spec, timeout=sla - warn)
            if done is None and self._cancel is None:
                self._set_stage("breached")
                to = p.escalation.to_role
                await workflow.execute_activity(
                    "close_task",
                    TaskClose(spec.task_id, "escalated", queue=to),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                )
                await self._step("sla_breached", escalated_to=to)
                done = await self._await_task(spec)
        if done is None:
            return await self._finish("cancelled")
        elapsed = (workflow.now() - started).total_seconds()
        verdict = "met" if elapsed <= sla else "breached"
        await self._step(
            f"sla_{verdict}",
            elapsed_seconds=elapsed,
            outcome=done.result["outcome"],
            actor=done.actor,
        )
        if p.customer.get("actions", {}).get("proactive_service"):
            await self._follow_up(inp)
        return await self._finish(verdict, elapsed_seconds=elapsed, answer=done.result["outcome"])

    async def _follow_up(self, inp: ServiceRequestInput) -> None:
        """Proactive service: a follow-up call after the answer (its result is recorded)."""
        follow = await self._policy_plan("service_follow_up", OneTaskPlan, self._version)
        if not follow.active:
            return
        self._set_stage("follow_up")
        spec = self._spec("follow_up", follow.params.task.block(), {"request_id": inp.request_id})
        done = await self._task(spec)
        if done is not None:
            await self._step("follow_up", outcome=done.result["outcome"], actor=done.actor)
