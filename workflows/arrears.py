"""Arrears escalation (欠费催缴): the policy's ladder, holds, protections checked at the moment.

Workflow id: `arrears:{customer_id}:{bill_id}`; input `ArrearsInput`, output `ProcessResult`.
Further overdue bills of the customer join by the `bill_overdue` signal.

- Plan: activity `arrears_plan` (typed `ArrearsPlan`, built from the policy loaded and checked
  against its jurisdiction's floor), then the floor applied again here (`enforce_floor`).
- Ladder (policy `arrears.steps` before the notice): reminders over a channel, on-site
  collection (a collector's `paid_on_site` holds the ladder until the CRM confirms the payment
  or says it did not arrive), prepayment conversion (eligible customers; the check at the
  moment runs before the meter order). Waits do not count time on hold.
- Disconnection phase: check at the moment (life support / medical registrations, holds, the
  customer); supervisor approval for the approval categories; the notice (filed with the
  power authority for the filing categories); the cut-off at the next allowed slot of the
  CURRENT calendar; before the re-notice (which commits the slot) and before the order the
  current truth is checked again; a hold or a protection change re-plans the slot with the
  held time re-anchored, and a notice too old for the slot is served again.
- Signals: `payment`, `payment_plan` / `instalment_missed` (hold / release), `bill_overdue`,
  `protection_changed` (ProtectionChanged), `cancel` (a disconnected customer is reconnected,
  unless the account is being closed: no reconnection order then). Updates: `complete_task`.
  Queries: `state`.
- Timers: waits, task due times, fresh-notice time, re-notice time, cut-off, daily re-checks
  while protected.
- End states: `settled`, `reconnected`, `cancelled`, `closed_disconnected`, `not_applicable`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows import arrears_strategy as strategy
    from workflows import calendar as cal
    from workflows.arrears_base import ArrearsBase
    from workflows.arrears_payloads import ArrearsPlan, ArrearsPlanRequest, LadderStep
    from workflows.arrears_rules import eligible, enforce_floor
    from workflows.inputs import ArrearsInput
    from workflows.outcomes import ProcessResult
    from workflows.tasks import ACTIVITY_TIMEOUT

__all__ = ["ArrearsWorkflow", "eligible"]
CLOSURE_ACTOR = "closure"  # the closure workflow's cancel: final reading instead of reconnection


@workflow.defn(name="arrears")
class ArrearsWorkflow(ArrearsBase):
    """One customer's arrears escalation; see the module docstring."""

    KIND = "arrears"

    @workflow.run
    async def run(self, inp: ArrearsInput) -> ProcessResult:
        """Run the ladder until settlement, cancellation or reconnection."""
        self._begin(inp.customer_id)
        self._bills.setdefault(inp.bill_id, inp.amount)
        self._facts.update({"bill_id": inp.bill_id, "amount": inp.amount, "bills": self._bills})
        self._started = self._now()
        plan: ArrearsPlan = await workflow.execute_activity(
            "arrears_plan", ArrearsPlanRequest(inp.customer_id),
            result_type=ArrearsPlan, start_to_close_timeout=ACTIVITY_TIMEOUT,
        )  # fmt: skip
        self._pin(plan.policy_version)
        if not plan.active:
            return await self._finish("not_applicable", reason=plan.reason)
        plan, changes = enforce_floor(plan)
        self._arrears = plan
        await self._step("started", bill_id=inp.bill_id, amount=inp.amount,
                         jurisdiction=plan.floor.jurisdiction)  # fmt: skip
        if changes:
            await self._step("floor_enforced", changes=changes)
        if plan.customer.get("strategy") and workflow.patched("arrears-strategy"):
            plan, changed = strategy.adjust(plan)  # arrears-risk strategy (paper 002)
            self._arrears = plan
            if changed:
                await self._step("strategy", **changed)
            if changed.get("tracking"):
                await self._external("tracking", "crm", "habitual_arrears", bill=inp.bill_id)
        for step in plan.ladder:
            await self._hold_gate()
            await self._flush_payments()
            if self._stopped():
                break
            self._set_stage(step.step)
            await self._ladder_step(step, plan)
            await self._ladder_wait(step.wait_seconds)
        if not self._stopped():
            await self._disconnection_phase(plan)
        if not self._stopped() and not self._disconnected:
            # no cut-off (protected, refused, no slot): wait for money or a decision
            self._set_stage("awaiting_payment")
            await workflow.wait_condition(self._stopped)
        await self._flush_payments()
        if self._disconnected and self._cancel is not None and self._cancel.actor == CLOSURE_ACTOR:
            await self._step("closed_while_disconnected", reason=self._cancel.reason)
            return await self._finish("closed_disconnected")
        if self._disconnected:
            return await self._reconnect(plan)
        if self._cancel is not None:
            return await self._finish("cancelled")
        return await self._finish("settled")

    # ---- the ladder ------------------------------------------------------------------------

    async def _ladder_step(self, step: LadderStep, plan: ArrearsPlan) -> None:
        name = step.step
        if step.channel:
            sent = await self._notify(name, [step.channel], name, bill=self._facts["bill_id"])
            await self._step(name, delivered=sent.delivered, channel=step.channel)
            return
        if step.task is None:
            await self._step(f"{name}.skipped", reason="step has no action")
            return
        if not eligible(step.eligible, plan.customer, plan.approval_categories):
            await self._step(f"{name}.skipped", reason=f"not eligible ({step.eligible})")
            return
        spec = self._spec(name, step.task.block(), {"bill_id": self._facts["bill_id"]})
        done = await self._task(
            spec, timeout=spec.due_in_seconds, wake=lambda: self._settled_at is not None
        )
        if done is None:
            await self._drop_task(spec.task_id, "settled" if self._stopped() else "overdue")
            await self._step(f"{name}.withdrawn", settled=self._stopped())
            return
        outcome = str(done.result["outcome"])
        await self._step(name, outcome=outcome, actor=done.actor)
        if name == "onsite_collection" and outcome == "paid_on_site":
            # money in the collector's hand is not yet money in the bank: hold until the CRM
            # confirms (payment signal) or says it did not arrive (protection_changed)
            self._holds.add("paid_on_site")
        if name == "prepayment_conversion" and outcome == "converted":
            verdict, _ = await self._guard(name, wait_protected=False)
            if verdict.decision != "proceed" or self._stopped():
                await self._step(f"{name}.stopped", decision=verdict.decision,
                                 check_id=verdict.check_id)  # fmt: skip
                return
            await self._external(name, "meter_head_end", "prepayment_mode")

    # ---- the disconnection phase ---------------------------------------------------------------

    def _waker(self, seen: int) -> Callable[[], bool]:
        """Wakes a wait on a hold, a settlement, a cancel or a protection change."""
        return lambda: self._held() or self._stopped() or self._changes != seen

    def _window(self, plan: ArrearsPlan) -> cal.NoticeWindow:
        return cal.NoticeWindow(
            min_lead=plan.notice_min_seconds,
            max_lead=plan.notice_max_seconds,
            renotice_lead=plan.renotice_before_seconds,
            target_lead=plan.notice_lead_seconds,
        )

    async def _disconnection_phase(self, plan: ArrearsPlan) -> None:
        verdict, _ = await self._guard("disconnection_notice")
        if self._stopped():
            return
        if verdict.category in plan.approval_categories:
            self._set_stage("awaiting_approval")
            spec = self._spec("approval", plan.approval.block(), {"category": verdict.category})
            done = await self._task(
                spec, timeout=plan.approval_timeout_seconds or None, wake=self._stopped
            )
            outcome = str(done.result["outcome"]) if done else "timed_out"
            await self._step("approval", outcome=outcome, actor=done.actor if done else None)
            if outcome != "approved":
                await self._drop_task(spec.task_id, "approval timed out")
                return
        window = self._window(plan)
        calendar = verdict.calendar
        serial = 0
        filing = verdict.category in plan.filing_categories
        delivered = await self._serve(f"notice{serial}", plan.notice_channels, plan, filing)
        anchor = self._held_total
        while delivered is not None and not self._stopped():
            planned = cal.replan_cutoff(delivered, self._held_total - anchor, workflow.now(),
                                        calendar, window)  # fmt: skip
            wake = self._waker(self._changes)
            if planned.cutoff is None:
                self._set_stage("no_cutoff_slot")
                await self._step("no_cutoff_slot")
                await workflow.wait_condition(wake)
            elif planned.fresh_notice_at is not None:
                self._set_stage("notice_refresh_wait")
                if not await self._until(planned.fresh_notice_at, wake):
                    serial += 1
                    delivered = await self._serve(f"notice{serial}", plan.notice_channels,
                                                  plan, filing)  # fmt: skip
                    anchor = self._held_total
                    continue
            else:
                self._facts["cutoff"] = planned.cutoff.isoformat()
                self._set_stage("cutoff_planned")
                renotice = cal.renotice_at(planned.cutoff, window)
                woken = await self._until(renotice, wake)
                if not woken and await self._commit(plan, delivered, planned.cutoff, serial, wake):
                    return
            if self._stopped():
                return
            # something changed (a hold, a protection, the calendar): look again, then re-plan
            verdict, _ = await self._guard("disconnection_notice")
            calendar = verdict.calendar
            serial += 1

    async def _commit(
        self, plan: ArrearsPlan, delivered: datetime, cutoff: datetime, serial: int, wake: Any
    ) -> bool:
        """Re-notice (it commits the slot) and cut off, each after a check at the moment;
        True once disconnected, False when the slot must be planned again."""
        window = self._window(plan)
        verdict, waited = await self._guard("renotice", cutoff)
        if waited or verdict.decision != "proceed" or self._stopped():
            return False
        redelivered = await self._serve(f"renotice{serial}", plan.renotice_channels, plan, False)
        if redelivered is None:
            return False
        final = cal.confirm_cutoff(cutoff, delivered, redelivered, verdict.calendar, window)
        if final is None or await self._until(final, wake):
            return False
        verdict, waited = await self._guard("disconnection")
        now = workflow.now()
        if (
            waited
            or verdict.decision != "proceed"
            or not cal.cutoff_permitted(now, delivered, redelivered, verdict.calendar, window)
        ):
            await self._step("cutoff_postponed", decision=verdict.decision,
                             check_id=verdict.check_id)  # fmt: skip
            return False
        await self._cut_off(plan, delivered, redelivered, verdict.check_id)
        return True

    async def _serve(
        self, step: str, channels: list[str], plan: ArrearsPlan, filing: bool
    ) -> datetime | None:
        """Serve a notice (or re-notice); the delivery time, or None when stopped first."""
        self._set_stage(step)
        template = "disconnection_notice" if step.startswith("notice") else "renotice"
        bills = {"bill": self._facts["bill_id"], "bills": sorted(self._bills)}
        if filing:
            await self._external(step, "power_authority", "disconnection_notice_filing", **bills)
        sent = await self._notify(step, list(channels), template, **bills)
        via: list[str] = sent.delivered_channels
        if not sent.delivered:
            spec = self._spec(f"{step}/deliver", plan.notice_delivery.block(), {"notice": step})
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

    async def _cut_off(
        self, plan: ArrearsPlan, notice_at: datetime, renotice_at: datetime, check_id: str
    ) -> None:
        self._set_stage("disconnecting")
        self._disconnected = True
        at = self._now()
        await self._external(
            "disconnect", "meter_head_end", "disconnect", bill=self._facts["bill_id"],
            bills=sorted(self._bills), notice_delivered_at=notice_at.isoformat(),
            renotice_delivered_at=renotice_at.isoformat(), check_id=check_id,
            jurisdiction=plan.floor.jurisdiction,
        )  # fmt: skip
        await self._step("disconnected", at=at, check_id=check_id)
        self._facts["disconnected_at"] = at
        self._set_stage("disconnected")
        if plan.disconnection_task is not None:
            spec = self._spec("disconnection", plan.disconnection_task.block())
            await self._task(spec, wake=self._stopped)
        await workflow.wait_condition(self._stopped)

    # ---- reconnection ------------------------------------------------------------------------

    async def _reconnect(self, plan: ArrearsPlan) -> ProcessResult:
        """Reconnect within the deadline; a failed attempt is escalated and tried again, and
        the ladder ends `reconnected` only when a reconnection succeeded."""
        self._set_stage("reconnecting")
        settled = self._settled_at or workflow.now()  # a cancel reconnects too
        limit = plan.reconnection_within_seconds
        for task_id in list(self._open):
            await self._drop_task(task_id, "arrears settled")
        block, attempt = plan.reconnection.block(), 0
        # A cancel must not abandon a reconnection: wait on the tasks alone.
        cancel, self._cancel = self._cancel, None
        while True:
            attempt += 1
            due = max(limit - (workflow.now() - settled).total_seconds(), 0.0)
            suffix = "" if attempt == 1 else str(attempt)
            await self._external(f"reconnect{suffix}", "meter_head_end", "reconnect",
                                 bill=self._facts["bill_id"], attempt=attempt)  # fmt: skip
            spec = self._spec(
                f"reconnection{suffix}", block,
                {"settled_at": settled.isoformat(), "due_within_seconds": due,
                 "attempt": attempt},
                due_seconds=due,
                queue=None if attempt == 1 else plan.reconnection_escalate_to,
            )  # fmt: skip
            await self._open_task(spec)
            done = await self._await_task(spec, escalate=(due, plan.reconnection_escalate_to))
            outcome = str(done.result["outcome"]) if done else "unknown"
            if outcome == "reconnected":
                break
            await self._step("reconnection.failed", attempt=attempt, outcome=outcome,
                             escalated_to=plan.reconnection_escalate_to)  # fmt: skip
        self._cancel = self._cancel or cancel
        return await self._finish("reconnected", reconnection=outcome, attempts=attempt)
