"""State, signals, holds and the protection guard of the arrears ladder (`ArrearsWorkflow`).

Holds come from signals (a payment plan, a dispute, a hardship application, a collector's
`paid_on_site` awaiting the CRM's confirmation) and from the store (what `check_protections`
finds at the moment). Time spent on hold is counted (`_held_total`) so the ladder's waits and
the notice's cut-off are re-anchored by it afterwards.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.arrears_payloads import (
        ArrearsPlan,
        BillSignal,
        ProtectionChanged,
        ProtectionRequest,
        ProtectionVerdict,
    )
    from workflows.process_base import ProcessBase
    from workflows.signals import InstalmentMissedSignal, PaymentPlanSignal, PaymentSignal
    from workflows.task_payloads import TaskSpec
    from workflows.tasks import ACTIVITY_TIMEOUT

HOLD_KINDS = ("dispute", "complaint", "hardship_application", "payment_plan")
# A hold found only in the store (its signal lost) is looked at again this often.
RECHECK_SECONDS = 86400.0


class ArrearsBase(ProcessBase):
    """The ladder's bookkeeping; the steps themselves are in `workflows.arrears`."""

    def __init__(self) -> None:
        super().__init__()
        self._paid = 0.0
        self._settled_at: datetime | None = None
        self._disconnected = False
        self._payments: list[dict[str, Any]] = []
        self._recorded_payments = 0
        self._bills: dict[str, float] = {}
        self._holds: set[str] = set()
        self._changes = 0  # protection_changed signals received
        self._held_total = 0.0  # seconds spent on hold so far
        self._started = ""
        self._review: TaskSpec | None = None
        self._arrears = ArrearsPlan(False, "")

    # ---- signals -------------------------------------------------------------------------

    @workflow.signal(name="payment")
    def payment(self, signal: PaymentSignal) -> None:
        """Money received; a full settlement stops the ladder or triggers reconnection."""
        self._paid += signal.amount
        self._payments.append({"amount": signal.amount, "settles": signal.settles,
                               "remaining": signal.remaining, "at": self._now()})  # fmt: skip
        self._facts["paid"] = self._paid
        if signal.settles and self._settled_at is None:
            self._settled_at = workflow.now()

    @workflow.signal(name="payment_plan")
    def payment_plan(self, signal: PaymentPlanSignal) -> None:
        """An instalment agreement holds the ladder."""
        self._holds.add("payment_plan")

    @workflow.signal(name="instalment_missed")
    def instalment_missed(self, signal: InstalmentMissedSignal) -> None:
        """A missed instalment releases the plan's hold; waits resume re-anchored."""
        self._holds.discard("payment_plan")

    @workflow.signal(name="bill_overdue")
    def bill_overdue(self, signal: BillSignal) -> None:
        """Another overdue bill of the customer joins this ladder."""
        self._bills[signal.bill_id] = signal.amount
        self._facts["bills"] = dict(self._bills)

    @workflow.signal(name="protection_changed")
    def protection_changed(self, signal: ProtectionChanged) -> None:
        """Protection data changed: look at the current truth again before the next
        irreversible step; a hold kind takes effect at once."""
        self._changes += 1
        key = f"{signal.kind}:{signal.reference}" if signal.reference else signal.kind
        if signal.kind in HOLD_KINDS or signal.kind == "paid_on_site":
            if signal.active:
                self._holds.add(key)
            else:
                self._holds.discard(key)

    # ---- conditions ------------------------------------------------------------------------

    def _stopped(self) -> bool:
        return self._settled_at is not None or self._cancel is not None

    def _held(self) -> bool:
        return bool(self._holds)

    async def _flush_payments(self) -> None:
        while self._recorded_payments < len(self._payments):
            await self._step("payment", **self._payments[self._recorded_payments])
            self._recorded_payments += 1

    async def _hold_gate(self) -> None:
        """While on hold: wait (recorded), counting the time held."""
        if not self._held() or self._stopped():
            return
        began = workflow.now()
        self._set_stage("paused")
        await self._step("paused", holds=sorted(self._holds))
        await workflow.wait_condition(lambda: not self._held() or self._stopped())
        held = (workflow.now() - began).total_seconds()
        self._held_total += held
        if not self._stopped():
            await self._step("resumed", held_seconds=held)

    async def _ladder_wait(self, seconds: float) -> None:
        """Wait a step's `wait`; time on hold does not count (the rest is re-anchored)."""
        remaining = seconds
        while not self._stopped():
            await self._hold_gate()
            if self._stopped():
                return
            began = workflow.now()
            woke = await self._sleep(
                remaining, lambda: self._held() or self._settled_at is not None
            )
            remaining -= (workflow.now() - began).total_seconds()
            if not woke or remaining <= 0:
                return

    # ---- the check at the moment -------------------------------------------------------------

    async def _check(self, step: str, cutoff: datetime | None = None) -> ProtectionVerdict:
        verdict: ProtectionVerdict = await workflow.execute_activity(
            "check_protections",
            ProtectionRequest(
                self.wid, self._customer, step, self._now(), self._version, self._started,
                cutoff.isoformat() if cutoff else "", sorted(self._bills),
            ),
            result_type=ProtectionVerdict,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )  # fmt: skip
        return verdict

    async def _guard(
        self, step: str, cutoff: datetime | None = None, wait_protected: bool = True
    ) -> tuple[ProtectionVerdict, bool]:
        """Check the current truth before `step`; while a hold or a protection lasts, wait
        (re-checking on every change, and daily). Returns the last verdict (`proceed`,
        `postpone` or, when stopped / not waiting, the protection) and whether it waited."""
        waited = False
        while True:
            await self._hold_gate()
            verdict = await self._check(step, cutoff)
            if verdict.decision in ("proceed", "postpone") or self._stopped():
                return verdict, waited
            await self._step("protection", for_step=step, decision=verdict.decision,
                             check_id=verdict.check_id,
                             reasons=[r.code for r in verdict.reasons])  # fmt: skip
            if verdict.decision == "protected" and not wait_protected:
                return verdict, waited
            waited = True
            await self._protected(verdict)
            if self._stopped():
                return verdict, waited

    async def _protected(self, verdict: ProtectionVerdict) -> None:
        """Wait for a change of the protection data (or a day) while protected / held; a
        life-support case gets one supervisor review task per ladder."""
        self._set_stage("protected" if verdict.decision == "protected" else "on_hold")
        codes = {r.code for r in verdict.reasons}
        if codes & {"life_support", "medical", "registration_expired"} and self._review is None:
            self._review = self._spec(
                "life_support_review", self._arrears.life_support_review.block()
            )
            await self._open_task(self._review)
        review = self._review.task_id if self._review is not None else ""
        began, seen = workflow.now(), self._changes

        def moved() -> bool:
            return (
                self._changes != seen
                or self._stopped()
                or (review in self._done and review in self._open)
            )

        if verdict.decision == "stop":
            await workflow.wait_condition(self._stopped)
        else:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(moved, timeout=timedelta(seconds=RECHECK_SECONDS))
        if self._review is not None and review in self._done and review in self._open:
            done = await self._await_task(self._review)  # closes the inbox row
            await self._step("life_support_protected",
                             outcome=done.result["outcome"] if done else None)  # fmt: skip
        self._held_total += (workflow.now() - began).total_seconds()
