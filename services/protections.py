"""Protection data of the arrears ladder: registrations, holds, moratoria.

Life-support / medical registrations carry the certificate's reference, who certified it and
its dates; past its end a registration still protects until a review renews or ends it.
Holds (a dispute or complaint about the bill, a pending hardship / aid application, an agreed
payment plan) stop the ladder until resolved. Moratoria are days without disconnections
declared at run time (extreme weather). Each change is one store transaction with its audit
entry (`*_in` variants join the caller's, e.g. an event's; registrations and reviews are
recorded with their review workflow's outbox transition in services/registration_reviews.py);
AFTER the commit the running ladders it affects are signalled
(services/protection_signals.py) so they react before their next slot. The check at the
moment reads the store regardless, so a lost signal delays nothing that matters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session, sessionmaker

from store import audit
from store.models import Customer, Hold, Moratorium, Registration

log = logging.getLogger(__name__)
REGISTRATION_KINDS = ("life_support", "medical")
HOLD_KINDS = ("dispute", "complaint", "hardship_application", "payment_plan")


@dataclass  # not frozen: raising sets __traceback__ on the instance
class ProtectionError(Exception):
    """A domain error: the field path, what is wrong, and a code the API maps to a status."""

    path: str
    message: str
    code: str = "invalid"  # invalid / not_found / conflict


def _customer(s: Session, customer_id: str) -> Customer:
    row = s.get(Customer, customer_id)
    if row is None:
        raise ProtectionError("customer_id", "unknown customer", "not_found")
    return row


def register_in(
    s: Session,
    customer_id: str,
    registration_id: str,
    kind: str,
    certificate_ref: str,
    certified_by: str,
    valid_from: date,
    valid_to: date | None,
    actor: str,
) -> Registration:
    """Record a registration inside the caller's transaction (an event's, or the API's in
    services/registration_reviews.py); idempotent by id with the same content."""
    if valid_to is not None and valid_to < valid_from:
        raise ProtectionError("valid_to", "ends before valid_from")
    _customer(s, customer_id)
    row = s.get(Registration, registration_id)
    if row is not None:
        same = (row.customer_id, row.kind, row.certificate_ref, row.valid_from, row.valid_to)
        if same != (customer_id, kind, certificate_ref, valid_from, valid_to):
            raise ProtectionError("registration_id", "already used differently", "conflict")
        return row
    row = Registration(
        registration_id=registration_id,
        customer_id=customer_id,
        kind=kind,
        certificate_ref=certificate_ref,
        certified_by=certified_by,
        valid_from=valid_from,
        valid_to=valid_to,
        created_by=actor,
        status="active",
    )
    s.add(row)
    audit.append(
        s,
        actor=actor,
        action="registration.created",
        target=f"registration:{registration_id}",
        customer_id=customer_id,
        detail={
            "kind": kind,
            "certificate_ref": certificate_ref,
            "certified_by": certified_by,
            "valid_from": str(valid_from),
            "valid_to": str(valid_to) if valid_to else None,
        },
    )
    return row


def review_in(
    s: Session, registration_id: str, outcome: str, valid_to: date | None, actor: str
) -> Registration:
    """A review decides an expiring / expired registration: `renewed` (new end) or `ended`,
    inside the caller's transaction (services/registration_reviews.py tells the review)."""
    row = s.get(Registration, registration_id)
    if row is None:
        raise ProtectionError("registration_id", "unknown registration", "not_found")
    if outcome == "renewed":
        if valid_to is None or valid_to < row.valid_from:
            raise ProtectionError("valid_to", "a renewal needs a new end after valid_from")
        row.valid_to = valid_to
    elif outcome == "ended":
        row.status = "ended"
    else:
        raise ProtectionError("outcome", "one of renewed, ended")
    row.review_outcome = outcome
    audit.append(
        s,
        actor=actor,
        action=f"registration.{outcome}",
        target=f"registration:{registration_id}",
        customer_id=row.customer_id,
        detail={"valid_to": str(row.valid_to) if row.valid_to else None},
    )
    return row


def open_hold(
    sessions: sessionmaker[Session],
    customer_id: str,
    hold_id: str,
    kind: str,
    bill_id: str | None,
    reference: str,
    actor: str,
) -> Hold:
    """Open a hold (idempotent by id)."""
    with sessions.begin() as s:
        row = open_hold_in(s, customer_id, hold_id, kind, bill_id, reference, actor)
        s.flush()
        s.expunge(row)
        return row


def open_hold_in(
    s: Session,
    customer_id: str,
    hold_id: str,
    kind: str,
    bill_id: str | None,
    reference: str,
    actor: str,
) -> Hold:
    """`open_hold` inside the caller's transaction."""
    _customer(s, customer_id)
    row = s.get(Hold, hold_id)
    if row is not None:
        if (row.customer_id, row.kind, row.bill_id) != (customer_id, kind, bill_id):
            raise ProtectionError("hold_id", "already used differently", "conflict")
        return row
    row = Hold(
        hold_id=hold_id,
        customer_id=customer_id,
        kind=kind,
        bill_id=bill_id,
        reference=reference,
        opened_by=actor,
        status="open",
    )
    s.add(row)
    audit.append(
        s,
        actor=actor,
        action="hold.opened",
        target=f"hold:{hold_id}",
        customer_id=customer_id,
        detail={"kind": kind, "bill_id": bill_id, "reference": reference},
    )
    return row


def resolve_hold(
    sessions: sessionmaker[Session], hold_id: str, resolution: str, actor: str
) -> Hold:
    """Close a hold; the ladder resumes with its waits re-anchored."""
    with sessions.begin() as s:
        row = resolve_hold_in(s, hold_id, resolution, actor)
        s.flush()
        s.expunge(row)
        return row


def resolve_hold_in(s: Session, hold_id: str, resolution: str, actor: str) -> Hold:
    """`resolve_hold` inside the caller's transaction."""
    row = s.get(Hold, hold_id)
    if row is None:
        raise ProtectionError("hold_id", "unknown hold", "not_found")
    if row.status == "open":
        row.status, row.resolution, row.closed_at = "resolved", resolution, datetime.now(UTC)
        audit.append(
            s,
            actor=actor,
            action="hold.resolved",
            target=f"hold:{hold_id}",
            customer_id=row.customer_id,
            detail={"resolution": resolution},
        )
    return row


def declare_moratorium(
    sessions: sessionmaker[Session],
    moratorium_id: str,
    first_day: date,
    last_day: date,
    reason: str,
    actor: str,
) -> Moratorium:
    """Declare days without disconnections (idempotent by id)."""
    if last_day < first_day:
        raise ProtectionError("last_day", "before first_day")
    with sessions.begin() as s:
        row = s.get(Moratorium, moratorium_id)
        if row is not None:
            if (row.first_day, row.last_day) != (first_day, last_day):
                raise ProtectionError("moratorium_id", "already used differently", "conflict")
            s.expunge(row)
            return row
        row = Moratorium(
            moratorium_id=moratorium_id,
            first_day=first_day,
            last_day=last_day,
            reason=reason,
            declared_by=actor,
            status="active",
        )
        s.add(row)
        audit.append(
            s,
            actor=actor,
            action="moratorium.declared",
            target=f"moratorium:{moratorium_id}",
            detail={"first_day": str(first_day), "last_day": str(last_day), "reason": reason},
        )
        s.flush()
        s.expunge(row)
        return row


def lift_moratorium(sessions: sessionmaker[Session], moratorium_id: str, actor: str) -> None:
    """End a moratorium early (the days become ordinary again)."""
    with sessions.begin() as s:
        row = s.get(Moratorium, moratorium_id)
        if row is None:
            raise ProtectionError("moratorium_id", "unknown moratorium", "not_found")
        if row.status == "active":
            row.status = "lifted"
            audit.append(
                s,
                actor=actor,
                action="moratorium.lifted",
                target=f"moratorium:{moratorium_id}",
                detail={},
            )
