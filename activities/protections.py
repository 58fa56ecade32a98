"""Activities of the arrears ladder's protections: its typed plan and the check at the moment.

`check_protections` runs right before each irreversible step (the notice that starts the
count, a prepayment conversion, the re-notice that commits the slot, the disconnection
order). It reads the CURRENT truth, never what the ladder saw when it started: the customer
record, life-support / medical registrations (an expired one protects until its review
decides), open holds (disputes, complaints, hardship / aid applications, payment plans), the
calendar in force (later policy versions, declared moratoria, the jurisdiction's protected
periods). Each check is written to the audit log with its reasons, once per workflow + step +
time (retries add nothing): the evidence pack and the independent test checker read it there.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

import rules
from activities import arrears_strategy, policy_store
from activities.inbox import plan_facts
from activities.protection_calendar import current_calendar, moratorium_on
from rules.arrears_params import ArrearsParams, TaskBlock
from rules.jurisdiction import Floor
from services import protections as registrations
from store import audit
from store.models import Assignment, AuditEntry, Customer, Hold, PolicyVersion, Registration
from workflows import calendar as cal
from workflows.arrears_payloads import (
    ArrearsPlan,
    ArrearsPlanRequest,
    FloorTerms,
    LadderStep,
    ProtectionReason,
    ProtectionRequest,
    ProtectionVerdict,
    ReviewDecision,
)
from workflows.arrears_payloads import TaskBlock as PlanTask

DAY = 86400.0
# decision precedence: the strongest protection found wins
ORDER = ["proceed", "postpone", "hold", "protected", "stop"]
LIFE = ("life_support", "medical")


def _task(t: TaskBlock) -> PlanTask:
    return PlanTask(t.task, t.assignee_role, t.due_seconds)


def floor_terms(floor: Floor) -> FloorTerms:
    """The floor as the workflow enforces it."""
    return FloorTerms(
        jurisdiction=floor.jurisdiction,
        notice_min_seconds=floor.notice_min_days * DAY,
        notice_max_seconds=floor.notice_max_days * DAY,
        renotice_min_seconds=floor.renotice_min_seconds,
        reconnection_max_seconds=floor.reconnection_max_seconds,
        never_disconnect=list(floor.never_disconnect),
        approval_categories=list(floor.approval_categories),
        filing_categories=list(floor.filing_categories),
        respect_calendar=floor.respect_calendar,
        citations={name: floor.cite(name) for name in floor.citations},
    )


def plan_of(a: ArrearsParams, floor: Floor, version: str, facts: dict[str, Any]) -> ArrearsPlan:
    """The workflow's plan from the typed parameters (floor applied by the workflow)."""
    return ArrearsPlan(
        active=True,
        policy_version=version,
        ladder=[
            LadderStep(
                s.step, s.wait_seconds, s.channel, _task(s.task) if s.task else None, s.eligible
            )
            for s in a.ladder
        ],
        notice_min_seconds=a.notice_min_days * DAY,
        notice_max_seconds=a.notice_max_days * DAY,
        notice_lead_seconds=a.notice_lead_seconds,
        notice_channels=list(a.notice_channels),
        renotice_before_seconds=a.renotice_before_seconds,
        renotice_channels=list(a.renotice_channels),
        disconnection_task=_task(a.disconnection_task) if a.disconnection_task else None,
        reconnection_within_seconds=a.reconnection_within_seconds,
        reconnection=_task(a.reconnection),
        reconnection_escalate_to=a.reconnection_escalate_to,
        notice_delivery=_task(a.notice_delivery),
        approval=_task(a.approval),
        approval_timeout_seconds=a.approval_timeout_seconds,
        approval_categories=list(a.approval_categories),
        filing_categories=list(a.filing_categories),
        life_support_disconnect=a.life_support_disconnect,
        life_support_review=_task(a.life_support_review),
        respect_calendar=a.respect_calendar,
        customer=facts,
        floor=floor_terms(floor),
    )


def life_registrations(s: Session, customer_id: str) -> list[Registration]:
    """Registrations that protect now: active, or expired and not yet reviewed."""
    rows = s.scalars(
        select(Registration).where(
            Registration.customer_id == customer_id,
            Registration.kind.in_(LIFE),
            Registration.status == "active",
        )
    )
    return list(rows)


def open_holds(s: Session, customer_id: str, kinds: tuple[str, ...]) -> list[Hold]:
    """Holds still open for the customer (any bill) of the kinds the floor lists."""
    q = select(Hold).where(
        Hold.customer_id == customer_id, Hold.status == "open", Hold.kind.in_(kinds)
    )
    return list(s.scalars(q))


class ProtectionActivities:
    """Activities bound to the store."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @activity.defn(name="arrears_plan")
    def arrears_plan(self, req: ArrearsPlanRequest) -> ArrearsPlan:
        """The customer's ladder under their assignment's policy version (pinned)."""
        with self._sessions() as s:
            customer = s.get(Customer, req.customer_id)
            row = s.get(Assignment, req.customer_id)
            if customer is None or customer.status != "active" or row is None:
                return ArrearsPlan(False, row.policy_version if row else "", "customer gone")
            version = s.get(PolicyVersion, row.policy_version)
            if version is None:
                return ArrearsPlan(False, row.policy_version, "policy version unknown")
            bundle = policy_store.bundle_of(version)
            if bundle.arrears is None or bundle.floor is None:
                return ArrearsPlan(False, row.policy_version, "no arrears ladder")
            facts = plan_facts(customer, row)
            facts["strategy"] = arrears_strategy.params(bundle, row)  # arrears-risk strategy
            return plan_of(bundle.arrears, bundle.floor, row.policy_version, facts)

    @activity.defn(name="check_protections")
    def check_protections(self, req: ProtectionRequest) -> ProtectionVerdict:
        """The current truth before an irreversible step; recorded in the audit log."""
        check_id = f"{req.workflow_id}|{req.step}|{req.at}"
        with self._sessions.begin() as s:
            pinned = policy_store.bundle_of_version(s, req.policy_version)
            bundles = [pinned]
            try:
                active = policy_store.active_bundle(s)
                if active.version != pinned.version:
                    bundles.append(active)
            except LookupError:
                pass
            floor = pinned.floor
            assert floor is not None  # a bundle without a floor never loads
            at = datetime.fromisoformat(req.at)
            instant = datetime.fromisoformat(req.cutoff) if req.cutoff else at
            calendar = current_calendar(s, bundles, floor, at.date())
            verdict = self._verdict(s, req, floor, calendar, instant, check_id)
            self._record(s, req, floor, verdict, check_id)
            return verdict

    def _verdict(
        self,
        s: Session,
        req: ProtectionRequest,
        floor: Floor,
        calendar: cal.CutoffCalendar,
        instant: datetime,
        check_id: str,
    ) -> ProtectionVerdict:
        reasons: list[tuple[str, ProtectionReason]] = []
        customer = s.get(Customer, req.customer_id)
        row = s.get(Assignment, req.customer_id)
        if customer is None or customer.status != "active":
            reasons.append(
                ("stop", ProtectionReason("customer_inactive", "", "account not active"))
            )
        local = instant.astimezone(ZoneInfo(calendar.timezone)).date()
        never = floor.cite("never_disconnect")
        if customer is not None and "life_support" in floor.never_disconnect:
            if customer.life_support:
                reasons.append(
                    ("protected", ProtectionReason("life_support", never, "customer record"))
                )
            for reg in life_registrations(s, req.customer_id):
                expired = reg.valid_to is not None and reg.valid_to < local
                code = "registration_expired" if expired else reg.kind
                why = f"{reg.registration_id} ({reg.certificate_ref}, valid to {reg.valid_to})"
                if expired:
                    why += ": expired, protected until the review decides"
                reasons.append(("protected", ProtectionReason(code, never, why)))
        for hold in open_holds(s, req.customer_id, floor.hold_kinds):
            if hold.bill_id and req.bills and hold.bill_id not in req.bills:
                continue
            why = f"{hold.hold_id} {hold.reference}".strip()
            reasons.append(("hold", ProtectionReason(hold.kind, floor.cite("holds"), why)))
        if req.step in ("renotice", "disconnection") and not cal.is_allowed(instant, calendar):
            m = moratorium_on(s, local)
            why = f"{instant.isoformat()} is in a protected period"
            if m is not None:
                why = f"moratorium {m.moratorium_id}: {m.reason}"
            rule = floor.cite("protected_periods")
            reasons.append(("postpone", ProtectionReason("calendar", rule, why)))
        decision = max((d for d, _ in reasons), key=ORDER.index, default="proceed")
        return ProtectionVerdict(
            decision=decision,
            check_id=check_id,
            calendar=calendar,
            reasons=[r for _, r in reasons],
            category=row.category if row else "",
            prepaid_meter=bool(customer and customer.prepaid_meter),
        )

    def _record(
        self,
        s: Session,
        req: ProtectionRequest,
        floor: Floor,
        verdict: ProtectionVerdict,
        check_id: str,
    ) -> None:
        key = audit.digest(["protection.check", check_id])[:64]
        seen = s.scalar(select(AuditEntry.seq).where(AuditEntry.request_id == key))
        if seen is not None:
            return
        around = date.fromisoformat(req.at[:10])
        near = [d for d in verdict.calendar.blocked_dates if abs(
            (date.fromisoformat(d) - around).days) <= 21]  # fmt: skip
        audit.append(
            s,
            actor="workflow",
            action="protection.check",
            target=f"workflow:{req.workflow_id}",
            customer_id=req.customer_id,
            request_id=key,
            policy_version=req.policy_version,
            detail={
                "check_id": check_id,
                "step": req.step,
                "at": req.at,
                "cutoff": req.cutoff,
                "decision": verdict.decision,
                "reasons": [r.__dict__ for r in verdict.reasons],
                "jurisdiction": floor.jurisdiction,
                "category": verdict.category,
                "calendar": {
                    "timezone": verdict.calendar.timezone,
                    "weekdays": verdict.calendar.weekdays,
                    "window": [verdict.calendar.start, verdict.calendar.end],
                    "blocked_near": near,
                },
            },
        )

    @activity.defn(name="apply_registration_review")
    def apply_registration_review(self, req: ReviewDecision) -> str:
        """Apply the review task's decision to the registration (idempotent)."""
        valid_to = date.fromisoformat(req.valid_to) if req.valid_to else None
        # the review workflow decided it itself: no `reviewed` signal back to it
        with self._sessions.begin() as s:
            row = registrations.review_in(s, req.registration_id, req.outcome, valid_to, req.actor)
            return str(row.status)

    def all(self) -> list[Any]:
        """Every activity of this class, for the worker."""
        return [self.arrears_plan, self.check_protections, self.apply_registration_review]


__all__ = ["ProtectionActivities", "floor_terms", "plan_of", "rules"]
