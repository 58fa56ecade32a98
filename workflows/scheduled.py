"""Scheduled-task processes a customer's strategy asks for: one task per period.

`key_account_meeting` (annual key-account meeting invitation, `annual_key_account_meeting`),
`record_verification` (360-degree contact and supply record, `contact_record_360`),
`special_inspection` (safety inspection plan, period = the strategy's `inspection_every`),
`electrician_training` (training and drills, `electrician_training`). Workflow id
`{process}:{customer_id}`, input `ScheduledInput`, output `ProcessResult`.

Each run is one cycle: the plan is read (the cycle ends the process with `left` when the
strategy no longer asks for it); the first cycle starts after a random share of `jitter` so
a population's tasks spread out; a task of the process's kind opens for its role (routing may
give it to the customer's account manager), escalated after `escalation.after` when set; a
notice goes out over `notice_channels` when set; the outcome is recorded and acted on
(record_verification: corrected contacts written back and sent to the CRM by
`update_contacts`; special_inspection:
an important customer's non-compliant backup power is reported to the authority at once);
then the process sleeps `period` (+- jitter/2) and continues as new.
Signals: `leave` (LeaveSignal), `cancel` (CancelSignal). Updates: `complete_task`.
Queries: `state`. Timers: the first delay, escalation, the period.
End states: `left`, `cancelled`, continued-as-new.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.activity_payloads import ContactUpdate
    from workflows.inputs import ScheduledInput
    from workflows.outcomes import ProcessResult
    from workflows.process_base import ProcessBase
    from workflows.process_plans import ScheduledPlan, ScheduledTerms
    from workflows.signals import LeaveSignal
    from workflows.tasks import ACTIVITY_TIMEOUT


class ScheduledTask(ProcessBase):
    """One cycle of a scheduled-task process; subclasses name the process."""

    PROCESS = ""

    def __init__(self) -> None:
        super().__init__()
        self._leave: LeaveSignal | None = None

    @workflow.signal(name="leave")
    def leave(self, signal: LeaveSignal) -> None:
        """The strategy no longer asks for the process; end at the next safe point."""
        self._leave = signal

    def _gone(self) -> bool:
        return self._leave is not None

    async def cycle(self, inp: ScheduledInput) -> ProcessResult:
        """Plan, task, outcome, sleep, continue as new."""
        self._begin(inp.customer_id)
        self._facts["cycle"] = inp.cycle
        plan = await self._typed_plan(self.PROCESS, ScheduledPlan)
        if not plan.active:
            return await self._finish("left", reason=plan.reason)
        p = plan.params
        jitter = p.jitter_seconds
        delay = inp.first_delay_seconds
        if inp.cycle == 0 and delay <= 0 and jitter > 0:
            delay = workflow.random().uniform(0, jitter)
        if delay > 0:
            self._set_stage("scheduled")
            await self._sleep(delay, self._gone)
        if self._gone() or self._cancel:
            return await self._left()
        self._set_stage("task")
        escalation = p.escalation
        if p.notice_channels:
            await self._notify(f"c{inp.cycle}/notice", list(p.notice_channels), self.PROCESS)
        spec = self._spec(f"c{inp.cycle}/{self.PROCESS}", p.task.block(), {"cycle": inp.cycle})
        done = await self._task(
            spec,
            wake=self._gone,
            escalate=(escalation.after_seconds, escalation.to_role) if escalation else None,
        )
        if done is not None:
            await self._step(self.PROCESS, cycle=inp.cycle, actor=done.actor, **done.result)
            await self._outcome(inp.cycle, p, done.result, done.actor)
        if self._gone() or self._cancel:
            return await self._left()
        self._set_stage("waiting_next_cycle")
        period = p.period_seconds
        await self._sleep(period + workflow.random().uniform(-jitter, jitter) / 2, self._gone)
        if self._gone() or self._cancel:
            return await self._left()
        workflow.continue_as_new(ScheduledInput(inp.customer_id, inp.cycle + 1, self._version))

    async def _outcome(
        self, cycle: int, p: ScheduledTerms, result: dict[str, Any], actor: str
    ) -> None:
        """What the process does with a completed task (subclasses)."""

    async def _left(self) -> ProcessResult:
        if self._cancel is not None:
            return await self._finish("cancelled")
        return await self._finish("left", reason=self._leave.reason if self._leave else "")


@workflow.defn(name="key_account_meeting")
class KeyAccountMeetingWorkflow(ScheduledTask):
    """Annual key-account meeting invitation; see the module docstring."""

    KIND = PROCESS = "key_account_meeting"

    @workflow.run
    async def run(self, inp: ScheduledInput) -> ProcessResult:
        """One year's invitation."""
        return await self.cycle(inp)


@workflow.defn(name="record_verification")
class RecordVerificationWorkflow(ScheduledTask):
    """360-degree record verification; corrections go to the record and the CRM."""

    KIND = PROCESS = "record_verification"

    @workflow.run
    async def run(self, inp: ScheduledInput) -> ProcessResult:
        """One verification."""
        return await self.cycle(inp)

    async def _outcome(
        self, cycle: int, p: ScheduledTerms, result: dict[str, Any], actor: str
    ) -> None:
        if result.get("contacts"):
            await workflow.execute_activity(
                "update_contacts",
                ContactUpdate(self._customer, dict(result["contacts"]), actor, self.wid),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
            )


@workflow.defn(name="special_inspection")
class SpecialInspectionWorkflow(ScheduledTask):
    """Special safety inspection plan; non-compliant backup power is reported at once."""

    KIND = PROCESS = "special_inspection"

    @workflow.run
    async def run(self, inp: ScheduledInput) -> ProcessResult:
        """One inspection."""
        return await self.cycle(inp)

    async def _outcome(
        self, cycle: int, p: ScheduledTerms, result: dict[str, Any], actor: str
    ) -> None:
        category = p.customer.get("category")
        if result.get("backup_power_compliant") is False and category == "important":
            await self._external(
                f"c{cycle}/authority",
                "power_authority",
                "backup_power_report",
                category=category,
                inspected_by=actor,
            )
            await self._step("reported_to_authority", cycle=cycle, reason="backup_power")


@workflow.defn(name="electrician_training")
class ElectricianTrainingWorkflow(ScheduledTask):
    """Electrician training and drills on a schedule."""

    KIND = PROCESS = "electrician_training"

    @workflow.run
    async def run(self, inp: ScheduledInput) -> ProcessResult:
        """One training / drill."""
        return await self.cycle(inp)


SCHEDULED_WORKFLOWS: list[type[Any]] = [
    KeyAccountMeetingWorkflow,
    RecordVerificationWorkflow,
    SpecialInspectionWorkflow,
    ElectricianTrainingWorkflow,
]
