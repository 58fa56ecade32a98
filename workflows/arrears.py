"""Arrears escalation (欠费催缴): the policy's ladder, payments at any time, regulated cut-off.

Workflow id: `arrears:{customer_id}:{bill_id}`; input `ArrearsInput`, output `ProcessResult`.

- Ladder (policy `arrears.steps`, in order): reminders over a channel (`sms_reminder`,
  `wechat_reminder`, `phone_reminder`), `onsite_collection` (collector task, withdrawn at its
  due time), `prepayment_conversion` (only for eligible customers: task, then a meter head-end
  order), then the disconnection phase (`disconnection_notice`, `renotice`, `disconnection`).
  Each step's `wait` runs before the next step.
- Disconnection phase: life-support customers are never cut off (a `life_support_review` task
  instead); approval categories need a supervisor `disconnection_approval` task (timeout =
  refusal); the notice goes over the notice channels (filed with the power authority for the
  filing categories), delivery confirmed by a channel or a `notice_delivery` task; the cut-off
  is the next allowed calendar slot `lead` after delivery, within `notice_min_days..max_days`
  (else a fresh notice is served first: `workflows.calendar`); the re-notice goes out `before`
  the cut-off; a last guard checks every rule; then the head-end `disconnect` order and a
  `disconnection` task.
- Signals: `payment` (PaymentSignal; full settlement stops the ladder, or once disconnected
  starts reconnection: head-end `reconnect` order + `reconnection` task due within
  `reconnection_within` of the settlement, escalated when late; a partial payment changes
  nothing), `payment_plan` (pauses the ladder; a pending cut-off is called off),
  `instalment_missed` (resumes at the next step; a cut-off needs a fresh notice), `cancel`
  (CancelSignal; a disconnected customer is reconnected). Updates: `complete_task`.
  Queries: `state`.
- Timers: each step's wait, task due times, fresh-notice time, re-notice time, cut-off.
- End states: `settled`, `reconnected`, `cancelled`, `not_applicable`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows import calendar as cal
    from workflows.process_base import ProcessBase
    from workflows.process_payloads import (
        ArrearsInput,
        CalendarRequest,
        InstalmentMissedSignal,
        PaymentPlanSignal,
        PaymentSignal,
        ProcessResult,
    )
    from workflows.tasks import ACTIVITY_TIMEOUT

DAY = 86400.0  # unit conversion of the policy's notice_*_days


def eligible(rule: str, facts: dict[str, Any], protected_categories: list[str]) -> bool:
    """Whether a ladder step's eligibility rule admits the customer (unknown rule: no)."""
    if rule == "always":
        return True
    if rule == "not_prepaid_and_not_protected":
        return not (
            facts.get("prepaid_meter")
            or facts.get("life_support")
            or facts.get("category") in protected_categories
        )
    return False


@workflow.defn(name="arrears")
class ArrearsWorkflow(ProcessBase):
    """One overdue bill's escalation; see the module docstring."""

    KIND = "arrears"

    def __init__(self) -> None:
        super().__init__()
        self._paid = 0.0
        self._settled_at: datetime | None = None
        self._paused = False
        self._disconnected = False
        self._payments: list[dict[str, Any]] = []
        self._recorded_payments = 0

    @workflow.signal(name="payment")
    def payment(self, signal: PaymentSignal) -> None:
        """Money received; a full settlement stops the ladder or triggers reconnection."""
        self._paid += signal.amount
        self._payments.append(
            {
                "amount": signal.amount,
                "settles": signal.settles,
                "remaining": signal.remaining,
                "at": self._now(),
            }
        )
        self._facts["paid"] = self._paid
        if signal.settles and self._settled_at is None:
            self._settled_at = workflow.now()

    @workflow.signal(name="payment_plan")
    def payment_plan(self, signal: PaymentPlanSignal) -> None:
        """An instalment agreement pauses the ladder."""
        self._paused = True

    @workflow.signal(name="instalment_missed")
    def instalment_missed(self, signal: InstalmentMissedSignal) -> None:
        """A missed instalment resumes the ladder where it paused."""
        self._paused = False

    def _stopped(self) -> bool:
        return self._settled_at is not None or self._cancel is not None

    async def _flush_payments(self) -> None:
        while self._recorded_payments < len(self._payments):
            await self._step("payment", **self._payments[self._recorded_payments])
            self._recorded_payments += 1

    async def _ladder_wait(self, seconds: float) -> None:
        """Wait a step's `wait`, paused time not counting (a pause restarts the wait)."""
        while not self._stopped():
            if self._paused:
                self._set_stage("paused")
                await self._step("paused")
                await workflow.wait_condition(lambda: not self._paused or self._stopped())
                if self._stopped():
                    return
                await self._step("resumed")
            woke = await self._sleep(seconds, lambda: self._paused or self._settled_at is not None)
            if not woke or not self._paused:
                return

    @workflow.run
    async def run(self, inp: ArrearsInput) -> ProcessResult:
        """Run the ladder until settlement, cancellation or reconnection."""
        self._begin(inp.customer_id)
        self._facts.update({"bill_id": inp.bill_id, "amount": inp.amount})
        plan = await self._plan("arrears")
        if not plan.active:
            return await self._finish("not_applicable", reason=plan.reason)
        p = plan.params
        facts = p["customer"]
        await self._step("started", bill_id=inp.bill_id, amount=inp.amount)
        steps: list[dict[str, Any]] = p["steps"]
        for index, step in enumerate(steps):
            await self._ladder_wait(0)
            await self._flush_payments()
            if self._stopped():
                break
            name = step["step"]
            self._set_stage(name)
            if name == "disconnection_notice":
                await self._disconnection_phase(p, facts, steps[index:])
                break
            await self._ladder_step(name, step, p, facts)
            await self._ladder_wait(float(step.get("wait_seconds", 0.0)))
        if not self._stopped() and not self._disconnected:
            # ladder exhausted without a cut-off (protected, refused, no slot): wait for money
            self._set_stage("awaiting_payment")
            await workflow.wait_condition(self._stopped)
        await self._flush_payments()
        if self._disconnected:
            return await self._reconnect(p)
        if self._cancel is not None:
            return await self._finish("cancelled")
        return await self._finish("settled")

    async def _ladder_step(
        self, name: str, step: dict[str, Any], p: dict[str, Any], facts: dict[str, Any]
    ) -> None:
        if "channel" in step:
            sent = await self._notify(name, [step["channel"]], name, bill=self._facts["bill_id"])
            await self._step(name, delivered=sent.delivered, channel=step["channel"])
            return
        if "task" not in step:
            await self._step(f"{name}.skipped", reason="step has no action")
            return
        rule = str(step.get("eligible", "always"))
        if not eligible(rule, facts, p.get("supervisor_approval_categories", [])):
            await self._step(f"{name}.skipped", reason=f"not eligible ({rule})")
            return
        spec = self._spec(name, step, {"bill_id": self._facts["bill_id"]})
        done = await self._task(
            spec, timeout=spec.due_in_seconds, wake=lambda: self._settled_at is not None
        )
        if done is None:
            await self._drop_task(spec.task_id, "settled" if self._stopped() else "overdue")
            await self._step(f"{name}.withdrawn", settled=self._stopped())
            return
        outcome = str(done.result["outcome"])
        await self._step(name, outcome=outcome, actor=done.actor)
        if name == "prepayment_conversion" and outcome == "converted":
            await self._external(name, "meter_head_end", "prepayment_mode")

    async def _disconnection_phase(
        self, p: dict[str, Any], facts: dict[str, Any], steps: list[dict[str, Any]]
    ) -> None:
        by_name = {s["step"]: s for s in steps}
        notice, renotice = by_name["disconnection_notice"], by_name["renotice"]
        life = p.get("life_support", {})
        if facts.get("life_support") and not life.get("disconnect", False):
            self._set_stage("protected_life_support")
            spec = self._spec("life_support_review", life)
            done = await self._task(spec, wake=self._stopped)
            await self._step(
                "life_support_protected", outcome=done.result["outcome"] if done else None
            )
            return
        if facts.get("category") in p.get("supervisor_approval_categories", []):
            self._set_stage("awaiting_approval")
            spec = self._spec("approval", p["approval"], {"category": facts.get("category")})
            done = await self._task(
                spec, timeout=float(p["approval_timeout_seconds"]), wake=self._stopped
            )
            outcome = str(done.result["outcome"]) if done else "timed_out"
            await self._step("approval", outcome=outcome, actor=done.actor if done else None)
            if outcome != "approved":
                await self._drop_task(spec.task_id, "approval timed out")
                return
        calendar = await self._calendar(p)
        window = cal.NoticeWindow(
            min_lead=float(notice["notice_min_days"]) * DAY,
            max_lead=float(notice["notice_max_days"]) * DAY,
            renotice_lead=float(renotice["before_seconds"]),
            target_lead=float(notice.get("lead_seconds", 0.0)),
        )
        serial = 0
        delivered = await self._serve(f"notice{serial}", notice, p, facts)
        while delivered is not None and not self._stopped():
            planned = cal.plan_cutoff(delivered, calendar, window)
            if planned.cutoff is None:
                self._set_stage("no_cutoff_slot")
                await self._step("no_cutoff_slot")
                return
            wake = lambda: self._paused or self._settled_at is not None  # noqa: E731
            if planned.fresh_notice_at is not None:
                self._set_stage("notice_refresh_wait")
                if not await self._until(planned.fresh_notice_at, wake):
                    serial += 1
                    delivered = await self._serve(f"notice{serial}", notice, p, facts)
                    continue
            else:
                self._facts["cutoff"] = planned.cutoff.isoformat()
                self._set_stage("cutoff_planned")
                if not await self._until(cal.renotice_at(planned.cutoff, window), wake):
                    redelivered = await self._serve(f"renotice{serial}", renotice, p, facts)
                    final = (
                        None
                        if redelivered is None
                        else cal.confirm_cutoff(
                            planned.cutoff, delivered, redelivered, calendar, window
                        )
                    )
                    if (
                        final is not None
                        and not await self._until(final, wake)
                        and cal.cutoff_permitted(
                            workflow.now(), delivered, redelivered, calendar, window
                        )
                    ):
                        await self._cut_off(by_name.get("disconnection", {}), delivered)
                        return
            if self._stopped():
                return
            if self._paused:  # a payment plan calls the cut-off off; resuming needs a new notice
                await self._ladder_wait(0)
                if self._stopped():
                    return
            serial += 1
            delivered = await self._serve(f"notice{serial}", notice, p, facts)

    async def _calendar(self, p: dict[str, Any]) -> cal.CutoffCalendar:
        if not p.get("respect_calendar", True):
            return cal.CutoffCalendar("UTC", weekdays=[1, 2, 3, 4, 5, 6, 7])
        found: cal.CutoffCalendar = await workflow.execute_activity(
            "load_calendar",
            CalendarRequest(self._version),
            result_type=cal.CutoffCalendar,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        return found

    async def _serve(
        self, step: str, block: dict[str, Any], p: dict[str, Any], facts: dict[str, Any]
    ) -> datetime | None:
        """Serve a notice (or re-notice); the delivery time, or None when stopped first."""
        self._set_stage(step)
        if step.startswith("notice") and facts.get("category") in p.get(
            "authority_filing_categories", []
        ):
            await self._external(
                step, "power_authority", "disconnection_notice_filing", bill=self._facts["bill_id"]
            )
        sent = await self._notify(
            step, list(block.get("channels", [])), block["step"], bill=self._facts["bill_id"]
        )
        via: list[str] = sent.delivered_channels
        if not sent.delivered:
            spec = self._spec(f"{step}/deliver", p["notice_delivery"], {"notice": step})
            done = await self._task(spec, wake=self._stopped)
            if done is None or done.result["outcome"] != "delivered":
                await self._step(f"{step}.undelivered")
                if done is not None:  # nobody could deliver it: no cut-off on this notice
                    await workflow.wait_condition(self._stopped)
                return None
            via = [f"task:{done.actor}"]
        at = workflow.now()
        await self._step(f"{step}.delivered", delivered_at=at.isoformat(), via=via)
        return at

    async def _cut_off(self, block: dict[str, Any], notice_at: datetime) -> None:
        self._set_stage("disconnecting")
        self._disconnected = True
        at = self._now()
        await self._external(
            "disconnect",
            "meter_head_end",
            "disconnect",
            bill=self._facts["bill_id"],
            notice_delivered_at=notice_at.isoformat(),
        )
        await self._step("disconnected", at=at)
        self._facts["disconnected_at"] = at
        self._set_stage("disconnected")
        if "task" in block:
            spec = self._spec("disconnection", block)
            await self._task(spec, wake=self._stopped)
        await workflow.wait_condition(self._stopped)

    async def _reconnect(self, p: dict[str, Any]) -> ProcessResult:
        self._set_stage("reconnecting")
        settled = self._settled_at or workflow.now()  # a cancel reconnects too
        limit = float(p["reconnection_within_seconds"])
        due = max(limit - (workflow.now() - settled).total_seconds(), 0.0)
        await self._external(
            "reconnect", "meter_head_end", "reconnect", bill=self._facts["bill_id"]
        )
        for task_id in list(self._open):
            await self._drop_task(task_id, "arrears settled")
        block = p["reconnection"]
        spec = self._spec(
            "reconnection",
            block,
            {"settled_at": settled.isoformat(), "due_within_seconds": due},
            due_seconds=due,
        )
        await self._open_task(spec)
        done = await self._await_task_ignoring_cancel(spec, due, str(block["escalate_to_role"]))
        return await self._finish("reconnected", reconnection=done)

    async def _await_task_ignoring_cancel(self, spec: Any, due: float, escalate_to: str) -> str:
        # A cancel must not abandon a reconnection: wait on the task alone.
        cancel, self._cancel = self._cancel, None
        done = await self._await_task(spec, escalate=(due, escalate_to))
        self._cancel = self._cancel or cancel
        return str(done.result["outcome"]) if done else "unknown"
