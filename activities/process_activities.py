"""Store-side activities of the event-driven processes.

Policy parameters not tied to one customer, the disconnection calendar of a pinned policy
version, the customers on a feeder, theft / tampering cases, the final settlement and the
closure of an account (which ends the customer's other processes). Each is idempotent by its
key (case id, workflow id + step), so a retry changes nothing twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

import rules
from activities import policy_store
from activities.process_plans import POLICY_TYPED
from store import audit
from store.models import Assignment, Case, Customer, OutboxMessage, Task
from workflows.activity_payloads import (
    AccountClosure,
    AccountClosureResult,
    CalendarRequest,
    CaseRecord,
    FeederCustomer,
    FeederCustomers,
    FeederRequest,
    ProcessParamsRequest,
    Settlement,
)
from workflows.calendar import CutoffCalendar
from workflows.catalogue import CATALOGUE
from workflows.process_plans import OneTaskPlan, PolicyPlan
from workflows.signals import CancelSignal, LeaveSignal

log = logging.getLogger(__name__)

WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
# Processes a customer may be running besides the closing one. Segment-driven ones end on
# `leave`, event-driven ones on `cancel`.
SEGMENT_PREFIXES = tuple(p.kind for p in CATALOGUE if p.trigger == "segment")


def calendar_of(bundle: rules.Bundle) -> CutoffCalendar:
    """The disconnection calendar of a bundle: holidays and moratoria as blocked dates."""
    cal = bundle.calendars
    window = cal.get("disconnection_window", {})
    blocked: set[str] = set()
    for section in ("holidays", "moratorium"):
        for entry in cal.get(section) or []:
            first = date.fromisoformat(str(entry["from"]))
            last = date.fromisoformat(str(entry.get("to", entry["from"])))
            blocked |= {
                (first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)
            }
    weekdays = window.get("weekdays") or list(WEEKDAYS)
    return CutoffCalendar(
        timezone=str(cal.get("timezone", "UTC")),
        blocked_dates=sorted(blocked),
        weekdays=[WEEKDAYS[str(d)[:3].lower()] for d in weekdays],
        start=str(window.get("start", "00:00")),
        end=str(window.get("end", "24:00")),
    )


class ProcessActivities:
    """Activities bound to the store (and a Temporal client, to end other processes)."""

    def __init__(self, sessions: sessionmaker[Session], client: Client | None = None) -> None:
        self._sessions = sessions
        self._client = client

    def _bundle(self, s: Session, version: str) -> rules.Bundle:
        return (
            policy_store.bundle_of_version(s, version)
            if version
            else (policy_store.active_bundle(s))
        )

    @activity.defn(name="load_process_params")
    def load_process_params(self, req: ProcessParamsRequest) -> PolicyPlan:
        """A process's typed plan, for processes that are not about one customer (the
        outage campaign, the one-task processes); built when the bundle loaded."""
        with self._sessions() as s:
            bundle = self._bundle(s, req.policy_version)
        build = POLICY_TYPED.get(req.process)
        if build is None:  # the catalogue names no such process: nothing to run
            return OneTaskPlan(False, bundle.version, reason=f"no typed plan for {req.process}")
        return build(bundle)

    @activity.defn(name="load_calendar")
    def load_calendar(self, req: CalendarRequest) -> CutoffCalendar:
        """The disconnection calendar of the pinned policy version."""
        with self._sessions() as s:
            return calendar_of(self._bundle(s, req.policy_version))

    @activity.defn(name="feeder_customers")
    def feeder_customers(self, req: FeederRequest) -> FeederCustomers:
        """Active customers on the feeder: outage-sensitive and important ones first."""
        with self._sessions() as s:
            defaults = policy_store.active_bundle(s).outage_notice
            rows = s.execute(
                select(Customer, Assignment)
                .join(Assignment, Assignment.customer_id == Customer.customer_id)
                .where(Customer.feeder_id == req.feeder_id, Customer.status == "active")
            ).all()
            out: list[FeederCustomer] = []
            for customer, row in rows:
                if defaults is None:  # the policy failed to build them: nobody to notify
                    break
                # the customer's strategy (channels, lead, switches) over the policy's terms
                p = defaults.for_customer((row.processes or {}).get("outage_notice", {}))
                out.append(
                    FeederCustomer(
                        customer_id=customer.customer_id,
                        category=row.category,
                        sensitive="outage_sensitive" in (row.tags or []),
                        channels=list(p.channels),
                        lead_seconds=p.lead_seconds,
                        pre_negotiation=p.pre_negotiation_required,
                        satisfaction_callback=p.satisfaction_callback_required,
                        outage_count_12m=customer.outage_count_12m,
                        outage_minutes_12m=customer.outage_minutes_12m,
                    )
                )
        out.sort(
            key=lambda c: (
                not c.sensitive,
                c.category != "important",
                -c.outage_minutes_12m,
                c.customer_id,
            )
        )
        return FeederCustomers(out)

    @activity.defn(name="record_case")
    def record_case(self, req: CaseRecord) -> str:
        """Open the case, or move it to settled / cancelled (no-op when already there)."""
        with self._sessions.begin() as s:
            case = s.get(Case, req.case_id)
            if case is None:
                case = Case(
                    case_id=req.case_id,
                    customer_id=req.customer_id,
                    workflow_id=req.workflow_id,
                    kind=req.kind,
                    status="open",
                    evidence=req.evidence,
                    back_billing=req.back_billing,
                    detail=req.detail,
                )
                s.add(case)
                audit.append(
                    s,
                    actor="workflow",
                    action="case.opened",
                    target=f"case:{req.case_id}",
                    customer_id=req.customer_id,
                    detail={
                        "kind": req.kind,
                        "back_billing": req.back_billing,
                        "workflow_id": req.workflow_id,
                    },
                )
            if req.status != "open" and case.status == "open":
                case.status = req.status
                case.closed_at = datetime.now(UTC)
                case.detail = {**case.detail, **req.detail}
                audit.append(
                    s,
                    actor="workflow",
                    action=f"case.{req.status}",
                    target=f"case:{req.case_id}",
                    customer_id=req.customer_id,
                    detail=req.detail,
                )
            return case.status

    @activity.defn(name="settle_account")
    def settle_account(self, req: Settlement) -> Settlement:
        """Final settlement: arrears, deposit and unpaid back-billing against each other."""
        key = f"{req.workflow_id}|settlement|billing"
        with self._sessions.begin() as s:
            done = s.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).first()
            if done is not None:
                return Settlement(**done.payload["settlement"])
            customer = s.get(Customer, req.customer_id)
            arrears = float(customer.arrears_amount) if customer else 0.0
            deposit = float((customer.attributes or {}).get("deposit", 0.0)) if customer else 0.0
            open_cases = s.scalars(
                select(Case).where(Case.customer_id == req.customer_id, Case.status == "open")
            ).all()
            back = sum(c.back_billing for c in open_cases)
            result = Settlement(
                req.customer_id,
                req.workflow_id,
                req.final_reading_kwh,
                arrears,
                deposit,
                back,
                round(arrears + back - deposit, 2),
            )

            s.add(
                OutboxMessage(
                    key=key,
                    adapter="billing",
                    action="final_settlement",
                    customer_id=req.customer_id,
                    workflow_id=req.workflow_id,
                    payload={"settlement": result.__dict__},
                )
            )
            audit.append(
                s,
                actor="workflow",
                action="account.settled",
                target=f"customer:{req.customer_id}",
                customer_id=req.customer_id,
                detail={"workflow_id": req.workflow_id, "balance": result.balance},
            )
            return result

    @activity.defn(name="close_account")
    def close_account(self, req: AccountClosure) -> AccountClosureResult:
        """Mark the customer closed; list the other workflows that must end."""
        with self._sessions.begin() as s:
            customer = s.get(Customer, req.customer_id)
            if customer is None:
                return AccountClosureResult(False)
            if customer.status != "closed":
                customer.status = "closed"
                audit.append(
                    s,
                    actor="workflow",
                    action="customer.closed",
                    target=f"customer:{req.customer_id}",
                    customer_id=req.customer_id,
                    detail={"workflow_id": req.workflow_id, "reason": req.reason},
                )
            ids = set(
                s.scalars(select(Task.workflow_id).where(Task.customer_id == req.customer_id)).all()
            )
            ids |= {
                i
                for i in s.scalars(
                    select(OutboxMessage.workflow_id).where(
                        OutboxMessage.customer_id == req.customer_id
                    )
                ).all()
                if i
            }
        ids |= {f"{p}:{req.customer_id}" for p in SEGMENT_PREFIXES}
        ids.discard(req.workflow_id)
        return AccountClosureResult(True, sorted(ids))

    @activity.defn(name="end_processes")
    async def end_processes(self, req: AccountClosureResult) -> list[str]:
        """Tell each listed workflow to end (gone already: fine); returns those told."""
        if self._client is None:
            return []
        told: list[str] = []
        for wid in req.ended_workflows:
            handle = self._client.get_workflow_handle(wid)
            segment = wid.split(":", 1)[0] in SEGMENT_PREFIXES
            signal: Any = (
                LeaveSignal("account closed")
                if segment
                else (CancelSignal("account closed", "closure"))
            )
            try:
                await handle.signal("leave" if segment else "cancel", signal)
                told.append(wid)
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
        return told

    def all(self) -> list[Any]:
        """Every activity of this class, for the worker."""
        return [
            self.load_process_params,
            self.load_calendar,
            self.feeder_customers,
            self.record_case,
            self.settle_account,
            self.close_account,
            self.end_processes,
        ]
