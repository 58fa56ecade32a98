"""CRM events: validation per type and routing to workflows and the points rules.

Every event is idempotent by its event id (the API stores the first answer). Routing:
bill_overdue -> start `arrears`; payment_received -> `payment` signal to the customer's
arrears process(es) and points accrual (durable-rules event rules); payment_plan_agreed /
instalment_missed -> arrears signals; closure_requested -> start `closure`;
inspection_findings -> start `hazard`; rectification_reported -> hazard signal; complaint ->
feedback points (and an outage complaint counts toward outage sensitivity);
planned_outage -> start `outage` for the feeder; service_request -> start `service_request`;
new_installation -> old arrears and prepayment meter check (services/new_installation.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.service import RPCError

import rules
from activities import customers as customer_store
from activities import processes, workflow_starts
from services import new_installation, points
from store.models import Customer
from workflows.process_payloads import (
    ArrearsInput,
    ClosureInput,
    Hazard,
    HazardInput,
    InstalmentMissedSignal,
    OutageInput,
    PaymentPlanSignal,
    PaymentSignal,
    RectificationSignal,
    ServiceRequestInput,
)

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class BillOverdue(_Data):
    """A bill is overdue."""

    bill_id: Id
    amount: float = Field(ge=0, description="Amount overdue (yuan).")


class PaymentReceived(_Data):
    """Money received (a bill payment or a prepayment top-up)."""

    amount: float = Field(ge=0)
    channel: Literal["online", "bank_auto_debit", "counter"]
    bill_id: Id | None = Field(default=None, description="The bill paid; absent: every open one.")
    settled: bool = Field(default=False, description="The arrears are settled in full.")
    remaining: float | None = Field(default=None, ge=0, description="Arrears still open.")
    payment_id: str = ""


class PaymentPlanAgreed(_Data):
    """An instalment agreement pauses the arrears ladder."""

    bill_id: Id
    instalments: int = Field(ge=1, le=36)


class InstalmentMissed(_Data):
    """A missed instalment resumes the ladder."""

    bill_id: Id


class ClosureRequested(_Data):
    """The customer asks to close the account."""

    request_id: Id


class HazardIn(_Data):
    """One finding of an inspection."""

    hazard_id: Id
    description: str = Field(min_length=1, max_length=500)
    severity: Literal["general", "serious", "critical"]


class InspectionFindings(_Data):
    """Hazards found at an inspection."""

    inspection_id: Id
    hazards: list[HazardIn] = Field(min_length=1, max_length=100)


class RectificationReported(_Data):
    """The customer reports hazards fixed."""

    inspection_id: Id
    hazard_ids: list[Id] = Field(default_factory=list, description="Empty: all of them.")


class Complaint(_Data):
    """A complaint (feedback)."""

    topic: Literal["outage", "service", "billing", "other"]


class PlannedOutage(_Data):
    """A planned outage on a feeder."""

    feeder_id: Id
    outage_id: Id
    starts_at: datetime
    ends_at: datetime
    reason: str = Field(default="planned maintenance", max_length=200)


class ServiceRequest(_Data):
    """A service request answered within the strategy's SLA."""

    request_id: Id
    subject: Literal["connection", "capacity_change", "billing", "outage", "other"]


class NewInstallation(_Data):
    """A new installation or capacity-change application (业扩): old arrears are checked and
    a prepayment meter fitted where the strategy recommends one."""

    application_id: Id


DATA: dict[str, type[_Data]] = {
    "new_installation": NewInstallation,
    "bill_overdue": BillOverdue,
    "payment_received": PaymentReceived,
    "payment_plan_agreed": PaymentPlanAgreed,
    "instalment_missed": InstalmentMissed,
    "closure_requested": ClosureRequested,
    "inspection_findings": InspectionFindings,
    "rectification_reported": RectificationReported,
    "complaint": Complaint,
    "planned_outage": PlannedOutage,
    "service_request": ServiceRequest,
}
CUSTOMERLESS = {"planned_outage"}


@dataclass
class Context:
    """What a handler may use."""

    session: Session
    client: Client
    task_queue: str
    engine: rules.Engine
    bundle: rules.Bundle
    actor: str
    event_id: str = ""


async def _signal(ctx: Context, workflow_id: str, name: str, payload: Any) -> bool:
    try:
        await ctx.client.get_workflow_handle(workflow_id).signal(name, payload)
        return True
    except RPCError as err:
        if "not found" in str(err).lower() or "completed" in str(err).lower():
            return False
        raise


async def _open_arrears(ctx: Context, customer_id: str) -> list[str]:
    query = (
        f"CustomerId = '{customer_id}' AND ProcessKind = 'arrears' AND ExecutionStatus = 'Running'"
    )
    return [wf.id async for wf in ctx.client.list_workflows(query)]


def _book(ctx: Context, award: rules.PointsAward, ref: str) -> bool:
    """Book an award in the points ledger (eligible categories only); the key makes a
    re-sent event harmless."""
    key = f"{award.event_type}:{award.customer_id}:{ref or ctx.event_id or uuid.uuid4().hex}"
    return points.earn(ctx.session, ctx.bundle, award, key, ctx.actor) is not None


async def _bump(ctx: Context, customer_id: str, **deltas: int) -> dict[str, Any]:
    """Add to counters of the stored record, re-segment it and start/stop the processes the
    new strategy asks for; returns the new assignment."""
    row = ctx.session.get(Customer, customer_id)
    assert row is not None  # the API checked the customer exists
    for name, delta in deltas.items():
        setattr(row, name, (getattr(row, name) or 0) + delta)
    result, before = customer_store.assign(ctx.session, ctx.engine, ctx.bundle, row)
    change = processes.diff(customer_id, before and before["processes"], result.processes)
    await processes.apply(ctx.client, ctx.task_queue, [change])
    return result.to_json()


async def route(ctx: Context, etype: str, customer_id: str | None, data: _Data) -> dict[str, Any]:
    """Apply one validated event; returns what happened (stored as the event's answer)."""
    out: dict[str, Any] = {"routed_to": [], "started": []}
    routed: list[str] = out["routed_to"]

    async def start(kind: str, inp: Any) -> None:
        started = await workflow_starts.start(ctx.client, ctx.task_queue, kind, inp)
        routed.append(started.workflow_id)
        out["started"].append(kind)

    if isinstance(data, BillOverdue):  # one ladder per customer: the bill joins it
        joined = await workflow_starts.join_arrears(
            ctx.client, ctx.task_queue, ArrearsInput(str(customer_id), data.bill_id, data.amount)
        )
        routed.append(joined.workflow_id)
        out["started"].append("arrears")
    elif isinstance(data, PaymentReceived):
        cid = str(customer_id)
        award = ctx.engine.accrue_points(
            {"type": "payment", "customer_id": cid, "amount": data.amount,
             "channel": data.channel})  # fmt: skip
        out["points"] = award.to_json()
        out["points_booked"] = _book(ctx, award, data.payment_id)
        out["assignment"] = await _bump(ctx, cid)
        # the customer's one ladder takes every bill (visibility also finds ladders started
        # under the former per-bill ids)
        targets = sorted({f"arrears:{cid}", *await _open_arrears(ctx, cid)})
        signal = PaymentSignal(data.amount, data.settled, data.remaining, data.payment_id)
        for wid in targets:
            if await _signal(ctx, wid, "payment", signal):
                routed.append(wid)
    elif isinstance(data, PaymentPlanAgreed | InstalmentMissed):
        wid = f"arrears:{customer_id}"
        name, payload = (
            ("payment_plan", PaymentPlanSignal(data.instalments))
            if isinstance(data, PaymentPlanAgreed) else ("instalment_missed",
                                                          InstalmentMissedSignal())
        )  # fmt: skip
        if not await _signal(ctx, wid, name, payload):
            raise LookupError(f"no running arrears process {wid}")
        routed.append(wid)
    elif isinstance(data, ClosureRequested):
        await start("closure", ClosureInput(str(customer_id), data.request_id))
    elif isinstance(data, InspectionFindings):
        hazards = [Hazard(h.hazard_id, h.description, h.severity) for h in data.hazards]
        await start("hazard", HazardInput(str(customer_id), data.inspection_id, hazards))
    elif isinstance(data, RectificationReported):
        wid = f"hazard:{customer_id}:{data.inspection_id}"
        if not await _signal(
            ctx, wid, "rectification_reported", RectificationSignal(list(data.hazard_ids))
        ):
            raise LookupError(f"no running hazard process {wid}")
        routed.append(wid)
    elif isinstance(data, Complaint):
        cid = str(customer_id)
        award = ctx.engine.accrue_points({"type": "feedback", "customer_id": cid})
        out["points"] = award.to_json()
        out["points_booked"] = _book(ctx, award, "")
        counters: dict[str, int] = {}
        if data.topic == "outage":
            counters["outage_complaints_12m"] = 1
        out["assignment"] = await _bump(ctx, cid, **counters)
    elif isinstance(data, PlannedOutage):
        await start("outage", OutageInput(data.feeder_id, data.outage_id,
                                          data.starts_at.isoformat(), data.ends_at.isoformat(),
                                          data.reason))  # fmt: skip
    elif isinstance(data, NewInstallation):
        out["new_installation"] = new_installation.check(
            ctx.session, str(customer_id), data.application_id, ctx.actor
        )
    elif isinstance(data, ServiceRequest):
        await start(
            "service_request", ServiceRequestInput(str(customer_id), data.request_id, data.subject)
        )
    return out
