"""CRM events: accept one event in one store transaction, idempotent by its event id.

Routing: bill_overdue -> start the customer's `arrears` ladder or join the bill to it;
payment_received -> points accrual (durable-rules event rules), re-segmentation and a
`payment` signal to the customer's arrears process(es);
payment_plan_agreed / instalment_missed -> arrears signals; closure_requested -> start
`closure`; inspection_findings -> start `hazard`; rectification_reported -> hazard signal;
complaint -> feedback points (an outage complaint counts toward outage sensitivity);
planned_outage -> start `outage` for the feeder; service_request -> start `service_request`;
new_installation -> old arrears and prepayment meter check (services/new_installation.py).
The event arrives validated into its member of the union (services/event_types.py); the
router matches on the member and reads the data's attributes.

The event's answer, its audit entry, any record change and the starts and signals it causes
(outbox rows) commit together; the relay applies the rows to Temporal after the answer. A
start whose business key is already queued or applied with another input is refused (409).
"""

from __future__ import annotations

import uuid
from typing import Any, assert_never

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from activities import customers as customer_store
from services import new_installation, outbox, points, protection_events
from services.customers import Engines, active_bundle
from services.errors import Conflict, Invalid, Issue
from services.event_data import PaymentReceived
from services.event_types import (
    CUSTOMERLESS,
    AnyEvent,
    BillDisputedEvent,
    BillOverdueEvent,
    ClosureRequestedEvent,
    ComplaintEvent,
    HardshipApplicationEvent,
    HoldResolvedEvent,
    InspectionFindingsEvent,
    InstalmentMissedEvent,
    LifeSupportRegisteredEvent,
    NewInstallationEvent,
    PaymentPlanAgreedEvent,
    PaymentReceivedEvent,
    PlannedOutageEvent,
    RectificationReportedEvent,
    ServiceRequestEvent,
)
from store import audit
from store.models import Customer, ProcessedEvent
from workflows import catalogue
from workflows.arrears_payloads import BillSignal
from workflows.inputs import (
    ArrearsInput,
    ClosureInput,
    Hazard,
    HazardInput,
    OutageInput,
    ServiceRequestInput,
)
from workflows.signals import (
    InstalmentMissedSignal,
    PaymentPlanSignal,
    PaymentSignal,
    RectificationSignal,
)


def accept(
    session: Session, engines: Engines, event: AnyEvent, actor: str, request_id: str | None
) -> dict[str, Any]:
    """Apply one event (validated into its union member: services/event_types.py) or answer
    a re-sent one; commits; returns the stored answer."""
    digest = event.digest()
    seen = session.get(ProcessedEvent, event.event_id)
    if seen is not None:
        return _replay(seen, digest)
    if event.type not in CUSTOMERLESS:
        if not event.customer_id:
            issue = Issue("customer_id", f"required for {event.type}", "missing")
            raise Invalid("Invalid event", issues=[issue])
        if session.get(Customer, event.customer_id) is None:
            issue = Issue("customer_id", "unknown customer", "unknown")
            raise Invalid("Invalid event", issues=[issue])
    bundle = active_bundle(session)
    router = _Router(session, engines(bundle), bundle, event, actor)
    router.route(event)
    response = {"event_id": event.event_id, "type": event.type, **router.out,
                "transitions": router.queued + outbox.add(session, router.rows)}  # fmt: skip
    session.add(ProcessedEvent(event_id=event.event_id, type=event.type,
                               customer_id=event.customer_id or "", digest=digest,
                               response=response))  # fmt: skip
    audit.append(session, actor=actor, action=f"event.{event.type}",
                 target=f"event:{event.event_id}", customer_id=event.customer_id,
                 request_id=request_id, policy_version=bundle.version,
                 detail={"data": event.sent, "routed_to": router.out["routed_to"]})  # fmt: skip
    try:
        session.commit()
    except IntegrityError:
        # the same event id arrived concurrently and won: answer as for a re-sent event
        session.rollback()
        winner = session.get(ProcessedEvent, event.event_id)
        if winner is None:
            raise
        return _replay(winner, digest)
    return response


def _replay(seen: ProcessedEvent, digest: str) -> dict[str, Any]:
    if seen.digest != digest:
        issue = Issue("event_id", "already used for a different event", "reused")
        raise Conflict("Conflict", "event_id already used for a different event", [issue])
    return {**seen.response, "duplicate": True}


class _Router:
    """Turns one event's data into record changes and outbox rows."""

    def __init__(
        self, session: Session, engine: Any, bundle: Any, event: AnyEvent, actor: str
    ) -> None:
        self.session, self.engine, self.bundle, self.event = session, engine, bundle, event
        self.actor = actor
        self.cid = str(event.customer_id)
        self.rows: list[dict[str, Any]] = []
        self.queued: list[dict[str, Any]] = []  # segment changes, queued at once
        self.out: dict[str, Any] = {"routed_to": [], "started": []}

    def start(self, kind: str, inp: Any) -> None:
        row = outbox.start_row(kind, inp, self.event.event_id)
        wid = row["workflow_id"]
        last = outbox.last_start(self.session, wid)
        if last is not None and not outbox.same_input(last.payload, row["payload"]):
            raise Conflict("Conflict", f"{wid} is running with a different input",
                           [Issue("data", f"{wid} was started with a different input",
                                  "key_in_use")])  # fmt: skip
        if last is None:  # the same input again is the same process: nothing more to do
            self.rows.append(row)
        self.out["routed_to"].append(wid)
        self.out["started"].append(kind)

    def signal(self, kind: str, wid: str, name: str, payload: Any, required: bool) -> None:
        if required and outbox.last_start(self.session, wid) is None:
            raise Conflict("Conflict", f"no running {kind} process {wid}",
                           [Issue("data", f"no {kind} process {wid}", "no_process")])  # fmt: skip
        self.rows.append(outbox.signal_row(kind, wid, name, payload, self.cid,
                                           self.event.event_id))  # fmt: skip
        self.out["routed_to"].append(wid)

    def book(self, award: Any, ref: str) -> bool:
        """Book an award in the points ledger (eligible categories only); the key makes a
        re-sent event harmless."""
        ref = ref or self.event.event_id or uuid.uuid4().hex
        key = f"{award.event_type}:{award.customer_id}:{ref}"
        return points.earn(self.session, self.bundle, award, key, self.actor) is not None

    def bump(self, **deltas: int) -> None:
        """Add to counters of the stored record, re-segment it and queue the transitions."""
        row = self.session.get(Customer, self.cid)
        assert row is not None  # accept() checked the customer exists
        for name, delta in deltas.items():
            setattr(row, name, (getattr(row, name) or 0) + delta)
        result, before = customer_store.assign(self.session, self.engine, self.bundle, row)
        change = outbox.diff(self.cid, before and before["processes"], result.processes)
        self.queued += outbox.queue_changes(self.session, [change], self.event.event_id)
        self.out["assignment"] = result.to_json()

    def route(self, event: AnyEvent) -> None:
        """One case per union member (mypy checks none is missing)."""
        cid = self.cid
        ladder = catalogue.key("arrears", customer_id=cid)  # the customer's one ladder
        match event:
            case BillOverdueEvent(data=data):  # one ladder per customer: the bill joins it
                inp = ArrearsInput(cid, data.bill_id, data.amount)
                row = outbox.join_row("arrears", inp, BillSignal(data.bill_id, data.amount),
                                      self.event.event_id)  # fmt: skip
                self.rows.append(row)
                self.out["routed_to"].append(row["workflow_id"])
                self.out["started"].append("arrears")
            case PaymentReceivedEvent(data=data):
                self._payment(data)
            case PaymentPlanAgreedEvent(data=data):
                self.signal("arrears", ladder, "payment_plan",
                            PaymentPlanSignal(data.instalments), required=True)  # fmt: skip
            case InstalmentMissedEvent():
                self.signal("arrears", ladder, "instalment_missed",
                            InstalmentMissedSignal(), required=True)  # fmt: skip
            case ClosureRequestedEvent(data=data):
                self.start("closure", ClosureInput(cid, data.request_id))
            case InspectionFindingsEvent(data=data):
                hazards = [Hazard(h.hazard_id, h.description, h.severity) for h in data.hazards]
                self.start("hazard", HazardInput(cid, data.inspection_id, hazards))
            case RectificationReportedEvent(data=data):
                hazard = catalogue.key("hazard", customer_id=cid, inspection_id=data.inspection_id)
                self.signal("hazard", hazard,
                            "rectification_reported", RectificationSignal(list(data.hazard_ids)),
                            required=True)  # fmt: skip
            case ComplaintEvent(data=data):
                award = self.engine.accrue_points({"type": "feedback", "customer_id": cid})
                self.out["points"] = award.to_json()
                self.out["points_booked"] = self.book(award, "")
                # an outage complaint counts toward outage sensitivity
                self.bump(**({"outage_complaints_12m": 1} if data.topic == "outage" else {}))
            case PlannedOutageEvent(data=data):
                starts, ends = data.starts_at.isoformat(), data.ends_at.isoformat()
                self.start("outage", OutageInput(data.feeder_id, data.outage_id, starts, ends,
                                                 data.reason))  # fmt: skip
            case NewInstallationEvent(data=data):
                self.out["new_installation"] = new_installation.check(
                    self.session, cid, data.application_id, self.actor
                )
            case ServiceRequestEvent(data=data):
                self.start("service_request",
                           ServiceRequestInput(cid, data.request_id, data.subject))  # fmt: skip
            case (LifeSupportRegisteredEvent() | BillDisputedEvent() | HardshipApplicationEvent()
                  | HoldResolvedEvent()):  # fmt: skip
                protection_events.route(self, event.data)
            case _:
                assert_never(event)

    def _payment(self, data: PaymentReceived) -> None:
        cid = self.cid
        award = self.engine.accrue_points(
            {"type": "payment", "customer_id": cid, "amount": data.amount,
             "channel": data.channel})  # fmt: skip
        self.out["points"] = award.to_json()
        self.out["points_booked"] = self.book(award, data.payment_id)
        self.bump()
        # the customer's one ladder takes every bill (and ladders queued under the former
        # per-bill ids)
        keys = {
            catalogue.key("arrears", customer_id=cid),
            *outbox.started_keys(self.session, cid, "arrears"),
        }
        signal = PaymentSignal(data.amount, data.settled, data.remaining, data.payment_id)
        for wid in sorted(keys):
            self.signal("arrears", wid, "payment", signal, required=False)
