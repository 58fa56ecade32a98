"""Account closure (销户): theft inspection where the strategy requires it, then close.

Workflow id: `closure:{customer_id}`; input `ClosureInput`, output `ProcessResult`.

- If `inspection_required` (the strategy's `closure_inspection_required`, set for
  safety_high_risk customers): a `closure_inspection` task for the inspection team with
  outcome no_issue / theft_found / tampering (evidence and estimated back-billing). Theft or
  tampering opens a case record (cases table) and a `theft_case` task; closure is blocked until
  the `case_settled` signal (or the case task completed `settled`) or a cancel.
- Then a `final_meter_reading` task, the final settlement (activity: arrears, deposit,
  back-billing), a `closure_settlement` task (repeated while `disputed`), the account closed
  in the store and the customer's other processes ended (`leave` / `cancel` signals).
- Signals: `case_settled` (CaseSettledSignal), `cancel` (CancelSignal; an open case is
  cancelled with it). Updates: `complete_task`. Queries: `state`.
- Timers: none of its own (task due times are the inbox's; escalation is by the queues).
- End states: `closed`, `cancelled`, `not_applicable` (customer unknown or already closed).
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.activity_payloads import (
        AccountClosure,
        AccountClosureResult,
        CaseRecord,
        CustomerFeedback,
        Settlement,
    )
    from workflows.inputs import ClosureInput
    from workflows.outcomes import ProcessResult
    from workflows.process_base import ProcessBase
    from workflows.process_plans import ClosurePlan, ClosureTerms
    from workflows.signals import CaseSettledSignal
    from workflows.tasks import ACTIVITY_TIMEOUT


@workflow.defn(name="closure")
class ClosureWorkflow(ProcessBase):
    """One account closure; see the module docstring."""

    KIND = "closure"

    def __init__(self) -> None:
        super().__init__()
        self._case_settled: CaseSettledSignal | None = None

    @workflow.signal(name="case_settled")
    def case_settled(self, signal: CaseSettledSignal) -> None:
        """The theft / tampering case is settled; closure may go on."""
        self._case_settled = signal

    @workflow.run
    async def run(self, inp: ClosureInput) -> ProcessResult:
        """Inspect (if required), clear any case, read, settle, close."""
        self._begin(inp.customer_id)
        plan = await self._typed_plan("closure", ClosurePlan)
        if not plan.active:
            return await self._finish("not_applicable", reason=plan.reason)
        p = plan.params
        required = p.inspection_required
        await self._step("started", request_id=inp.request_id, inspection_required=required)
        if required and not await self._inspection(p):
            return await self._finish("cancelled")

        self._set_stage("final_reading")
        reading = await self._task(self._spec("final_reading", p.final_reading.block()))
        if reading is None:
            return await self._finish("cancelled")
        kwh = float(reading.result["reading_kwh"])
        await self._step("final_reading", reading_kwh=kwh, actor=reading.actor)

        self._set_stage("settlement")
        settlement: Settlement = await workflow.execute_activity(
            "settle_account",
            Settlement(inp.customer_id, self.wid, kwh),
            result_type=Settlement,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        self._facts["settlement"] = settlement.__dict__
        attempt = 0
        while True:
            attempt += 1
            spec = self._spec(f"settlement{attempt}", p.settlement.block(), settlement.__dict__)
            done = await self._task(spec)
            if done is None:
                return await self._finish("cancelled")
            await self._step("settlement", outcome=done.result["outcome"], actor=done.actor)
            if done.result["outcome"] == "settled":
                break

        self._set_stage("closing")
        closed: AccountClosureResult = await workflow.execute_activity(
            "close_account",
            AccountClosure(inp.customer_id, self.wid),
            result_type=AccountClosureResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        told: list[str] = await workflow.execute_activity(
            "end_processes",
            closed,
            result_type=list[str],
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        await self._step("account_closed", ended_processes=told)
        return await self._finish("closed", ended_processes=told)

    async def _inspection(self, p: ClosureTerms) -> bool:
        """The theft inspection and any case; False when cancelled."""
        self._set_stage("inspection")
        done = await self._task(self._spec("inspection", p.inspection.block()))
        if done is None:
            return False
        outcome = str(done.result["outcome"])
        await self._step("inspection", outcome=outcome, actor=done.actor)
        if outcome in ("theft_found", "tampering"):
            await self._feedback(
                "theft", CustomerFeedback(self._customer, {"theft_records_24m": 1})
            )
        if outcome == "no_issue":
            return True
        case = CaseRecord(
            case_id=f"{self.wid}/case",
            customer_id=self._customer,
            workflow_id=self.wid,
            kind="theft" if outcome == "theft_found" else "tampering",
            evidence=str(done.result.get("evidence", "")),
            back_billing=float(done.result.get("back_billing", 0.0)),
        )
        await workflow.execute_activity(
            "record_case", case, start_to_close_timeout=ACTIVITY_TIMEOUT
        )
        self._facts["case_id"] = case.case_id
        self._set_stage("blocked_by_case")
        spec = self._spec(
            "theft_case",
            p.theft_case.block(),
            {
                "case_id": case.case_id,
                "back_billing": case.back_billing,
            },
        )
        await self._open_task(spec)
        settled_by_task = False
        while self._case_settled is None and self._cancel is None and not settled_by_task:
            worked = await self._await_task(spec, wake=lambda: self._case_settled is not None)
            if worked is None:
                break
            settled_by_task = worked.result["outcome"] == "settled"
            await self._step("theft_case", outcome=worked.result["outcome"], actor=worked.actor)
            if not settled_by_task:  # referred: wait for the settlement signal
                await workflow.wait_condition(
                    lambda: self._case_settled is not None or self._cancel is not None
                )
        case.status = "cancelled" if self._cancel is not None else "settled"
        case.detail = {"signal": self._case_settled.__dict__ if self._case_settled else None}
        await workflow.execute_activity(
            "record_case", case, start_to_close_timeout=ACTIVITY_TIMEOUT
        )
        await self._drop_task(spec.task_id, f"case {case.status}")
        await self._step(f"case_{case.status}", case_id=case.case_id)
        return self._cancel is None
