"""The CRM event as one pydantic discriminated union by `type` (the wire format of
`POST /v1/events`): an envelope (`event_id`, `customer_id`, `occurred_at`) and the type's
`data` model from services/event_data.py or services/protection_events.py.

The API validates the request body into `EventIn`, so the OpenAPI schema shows each type's
data and the discriminator mapping; the simulation builds events with `parse`. Error paths
keep the wire contract: a field of the data is `data.<field>`, a field of the envelope
`body.<field>`, an unknown or missing type `body.type`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import (
    BaseModel,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from services.errors import Invalid, Issue
from services.event_data import (
    CUSTOMERLESS,
    BillOverdue,
    ClosureRequested,
    Complaint,
    InspectionFindings,
    InstalmentMissed,
    NewInstallation,
    PaymentPlanAgreed,
    PaymentReceived,
    PlannedOutage,
    RectificationReported,
    ServiceRequest,
)
from services.protection_events import (
    BillDisputed,
    HardshipApplication,
    HoldResolved,
    LifeSupportRegistered,
)
from store import audit

__all__ = ["CUSTOMERLESS", "DATA", "EventIn", "error_loc", "parse"]


class _Envelope(BaseModel):
    """What every event carries besides its type and data (unknown keys are ignored)."""

    event_id: str = Field(min_length=1, max_length=100, description="Makes the event idempotent.")
    customer_id: str | None = Field(
        default=None, max_length=64, description="Required except for planned_outage."
    )
    occurred_at: datetime | None = None
    # the data as the client sent it: what the audit entry keeps and the digest covers
    _sent: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_sent(cls, value: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        event = handler(value)
        if isinstance(value, dict) and isinstance(value.get("data"), dict):
            event._sent = dict(value["data"])
        return event

    @property
    def sent(self) -> dict[str, Any]:
        """The data as received (key order and number forms kept)."""
        return self._sent

    def digest(self) -> str:
        """Digest of the envelope as received: the same event id with other content is a
        conflict. Computed over the same fields as before the union (a re-sent event stored
        by an earlier release still matches)."""
        fields = self.model_dump(mode="json", exclude={"data"})
        return audit.digest({**fields, "data": self._sent})


class BillOverdueEvent(_Envelope):
    type: Literal["bill_overdue"]
    data: BillOverdue


class PaymentReceivedEvent(_Envelope):
    type: Literal["payment_received"]
    data: PaymentReceived


class PaymentPlanAgreedEvent(_Envelope):
    type: Literal["payment_plan_agreed"]
    data: PaymentPlanAgreed


class InstalmentMissedEvent(_Envelope):
    type: Literal["instalment_missed"]
    data: InstalmentMissed


class ClosureRequestedEvent(_Envelope):
    type: Literal["closure_requested"]
    data: ClosureRequested


class InspectionFindingsEvent(_Envelope):
    type: Literal["inspection_findings"]
    data: InspectionFindings


class RectificationReportedEvent(_Envelope):
    type: Literal["rectification_reported"]
    data: RectificationReported


class ComplaintEvent(_Envelope):
    type: Literal["complaint"]
    data: Complaint


class PlannedOutageEvent(_Envelope):
    type: Literal["planned_outage"]
    data: PlannedOutage


class ServiceRequestEvent(_Envelope):
    type: Literal["service_request"]
    data: ServiceRequest


class NewInstallationEvent(_Envelope):
    type: Literal["new_installation"]
    data: NewInstallation


class LifeSupportRegisteredEvent(_Envelope):
    type: Literal["life_support_registered"]
    data: LifeSupportRegistered


class BillDisputedEvent(_Envelope):
    type: Literal["bill_disputed"]
    data: BillDisputed


class HardshipApplicationEvent(_Envelope):
    type: Literal["hardship_application"]
    data: HardshipApplication


class HoldResolvedEvent(_Envelope):
    type: Literal["hold_resolved"]
    data: HoldResolved


AnyEvent = (
    BillOverdueEvent | PaymentReceivedEvent | PaymentPlanAgreedEvent | InstalmentMissedEvent
    | ClosureRequestedEvent | InspectionFindingsEvent | RectificationReportedEvent
    | ComplaintEvent | PlannedOutageEvent | ServiceRequestEvent | NewInstallationEvent
    | LifeSupportRegisteredEvent | BillDisputedEvent | HardshipApplicationEvent
    | HoldResolvedEvent
)  # fmt: skip
EventIn = Annotated[AnyEvent, Field(discriminator="type")]
ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(EventIn)

# event type -> its envelope model (derived from the union: one place names a type)
MEMBERS: dict[str, type[_Envelope]] = {
    get_args(m.model_fields["type"].annotation)[0]: m for m in get_args(AnyEvent)
}
# event type -> its data model
DATA: dict[str, type[BaseModel]] = {
    t: m.model_fields["data"].annotation  # type: ignore[misc]
    for t, m in MEMBERS.items()
}
TAG_ERRORS = {"union_tag_invalid", "union_tag_not_found"}


def error_loc(loc: Sequence[int | str], code: str, prefix: tuple[str, ...] = ()) -> tuple[Any, ...]:
    """The path of a validation error of the union, without pydantic's tag: a field of the
    data -> (`data`, field, ...); of the envelope -> prefix + (field, ...); the type itself
    (unknown or missing) -> prefix + (`type`,). `loc` starts after `prefix`."""
    rest = tuple(loc)
    if code in TAG_ERRORS:
        return (*prefix, "type")
    if rest and rest[0] in MEMBERS:
        rest = rest[1:]
    if len(rest) > 1 and rest[0] == "data":
        return rest  # the services' own form, as before the union
    return (*prefix, *rest)


def parse(body: dict[str, Any]) -> AnyEvent:
    """The typed event of an envelope given as a dict (Invalid with the paths above)."""
    try:
        return ADAPTER.validate_python(body)
    except ValidationError as err:
        issues = [
            Issue(".".join(str(p) for p in error_loc(e["loc"], e["type"])), e["msg"], e["type"])
            for e in err.errors()
        ]
        raise Invalid("Invalid event", issues=issues) from err
