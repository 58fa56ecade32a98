"""CRM events about protections: life-support / medical registrations, bill disputes,
hardship / aid applications, and their resolution.

Each event writes its protection row in the event's own transaction (with the event record
and its audit entry) and queues outbox rows for the relay: `protection_changed` to the
customer's ladder and, for a registration with an end date, its review workflow. The data
models join the event union in services/event_types.py; the router in services/events.py
hands these types to `route` (one line there).
"""

from __future__ import annotations

from typing import Any, Literal, assert_never

from pydantic import Field

from services import protections
from services.errors import Conflict, Invalid, Issue
from services.event_data import Id, _Data
from workflows import catalogue
from workflows.arrears_payloads import ProtectionChanged, RegistrationReviewInput
from workflows.json_types import IsoDate

DEFAULT_REVIEW_AHEAD = 30 * 86400.0


class LifeSupportRegistered(_Data):
    """Life-support equipment or a medical condition certified for the premises."""

    registration_id: Id
    kind: Literal["life_support", "medical"] = "life_support"
    certificate_ref: str = Field(min_length=1, max_length=200)
    certified_by: str = Field(min_length=1, max_length=200)
    valid_from: IsoDate
    valid_to: IsoDate | None = None


class BillDisputed(_Data):
    """A dispute or complaint about the bill: the ladder holds until it is resolved."""

    hold_id: Id
    kind: Literal["dispute", "complaint"] = "dispute"
    bill_id: Id | None = None
    reference: str = Field(default="", max_length=200)


class HardshipApplication(_Data):
    """A pending hardship / aid (concession) application: the ladder holds until decided."""

    hold_id: Id
    reference: str = Field(default="", max_length=200)


class HoldResolved(_Data):
    """A dispute resolved, an application decided: the ladder resumes (re-anchored)."""

    hold_id: Id
    resolution: str = Field(min_length=1, max_length=200)


ProtectionEvent = LifeSupportRegistered | BillDisputed | HardshipApplication | HoldResolved


def route(router: Any, data: ProtectionEvent) -> None:
    """Apply one protection event inside the router's transaction."""
    cid, actor = router.cid, router.actor
    try:
        match data:
            case LifeSupportRegistered():
                change = _register(router, data)
            case BillDisputed():
                protections.open_hold_in(router.session, cid, data.hold_id, data.kind,
                                         data.bill_id, data.reference, actor)  # fmt: skip
                change = ProtectionChanged(data.kind, True, data.hold_id)
            case HardshipApplication():
                kind = "hardship_application"
                protections.open_hold_in(router.session, cid, data.hold_id, kind, None,
                                         data.reference, actor)  # fmt: skip
                change = ProtectionChanged(kind, True, data.hold_id)
            case HoldResolved():
                hold = protections.resolve_hold_in(
                    router.session, data.hold_id, data.resolution, actor
                )
                if hold.customer_id != cid:
                    raise protections.ProtectionError("data.hold_id", "not this customer's hold")
                change = ProtectionChanged(hold.kind, False, data.hold_id)
            case _:
                assert_never(data)
    except protections.ProtectionError as err:
        issue = Issue(
            err.path if err.path.startswith("data") else f"data.{err.path}", err.message, err.code
        )
        if err.code == "conflict":
            raise Conflict("Conflict", err.message, [issue]) from err
        raise Invalid("Invalid event data", issues=[issue]) from err
    router.signal(
        "arrears",
        catalogue.key("arrears", customer_id=cid),
        "protection_changed",
        change,
        required=False,
    )


def _register(router: Any, data: LifeSupportRegistered) -> ProtectionChanged:
    """Record the registration; one with an end date gets its review process."""
    row = protections.register_in(
        router.session, router.cid, data.registration_id, data.kind, data.certificate_ref,
        data.certified_by, data.valid_from, data.valid_to, router.actor,
    )  # fmt: skip
    if row.valid_to is not None:
        bundle = router.bundle
        ahead = bundle.arrears.review_ahead_seconds if bundle.arrears else None
        router.start(
            "registration_review",
            RegistrationReviewInput(row.registration_id, router.cid, row.kind,
                                    str(row.valid_to), ahead or DEFAULT_REVIEW_AHEAD),
        )  # fmt: skip
    return ProtectionChanged(data.kind, True, data.registration_id)
