"""The data of each CRM event type (pydantic models, strict): what services/events.py routes.

services/event_types.py joins these (and the protection events' data) into one discriminated
union by event type, which the API validates the request body into. Starts and signals the
events cause are outbox rows committed with the event's record; the relay applies them to
Temporal after the answer.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.json_types import IsoDateTime

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
    starts_at: IsoDateTime
    ends_at: IsoDateTime
    reason: str = Field(default="planned maintenance", max_length=200)


class ServiceRequest(_Data):
    """A service request answered within the strategy's SLA."""

    request_id: Id
    subject: Literal["connection", "capacity_change", "billing", "outage", "other"]


class NewInstallation(_Data):
    """A new installation or capacity-change application (业扩): old arrears are checked and
    a prepayment meter fitted where the strategy recommends one."""

    application_id: Id


CUSTOMERLESS = {"planned_outage"}  # event types about a feeder, not one customer
