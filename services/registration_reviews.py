"""Registrations and their reviews through the API: the record, its audit entry and the
review's process transition in ONE store transaction.

A registration with an end date gets a review workflow (`registration:{registration_id}`,
workflows/registration.py) that opens a supervisor task ahead of the end; a review decided
through the API tells that workflow (`reviewed`). Both go to Temporal as outbox rows
(services/outbox.py) that the relay applies afterwards (services/relay.py): the API answers
as soon as the store committed, lists the queued transitions, and never holds a store
transaction across a Temporal call; Temporal being away loses nothing. A registration made
by a CRM event queues the same start through the event router (services/protection_events.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from activities import policy_store
from services import outbox, protections
from store.models import Registration
from workflows import catalogue
from workflows.arrears_payloads import RegistrationReviewed, RegistrationReviewInput

KIND = "registration_review"
DEFAULT_REVIEW_AHEAD = 30 * 86400.0


@dataclass
class Recorded:
    """A registration as stored, and the transitions its transaction queued."""

    registration: Registration
    transitions: list[dict[str, Any]]
    review_workflow: str | None = None  # the review's workflow id (None: no end date)


def workflow_id(registration_id: str) -> str:
    """The review's business key (the catalogue's id template)."""
    return catalogue.key(KIND, registration_id=registration_id)


def review_ahead_seconds(s: Session) -> float:
    """How long before a certificate ends its review opens (active policy; 30 days)."""
    try:
        bundle = policy_store.active_bundle(s)
    except LookupError:
        return DEFAULT_REVIEW_AHEAD
    return bundle.arrears.review_ahead_seconds if bundle.arrears else DEFAULT_REVIEW_AHEAD


def queue_review(s: Session, row: Registration, source: str) -> list[dict[str, Any]]:
    """Queue the review's start in the caller's transaction, unless one is queued or applied
    already (a registration sent again is the same registration); returns what was queued."""
    if row.valid_to is None:
        return []
    inp = RegistrationReviewInput(row.registration_id, row.customer_id, row.kind,
                                  str(row.valid_to), review_ahead_seconds(s))  # fmt: skip
    start = outbox.start_row(KIND, inp, source)
    if outbox.last_start(s, start["workflow_id"]) is not None:
        return []
    return outbox.add(s, [start])


def register(
    sessions: sessionmaker[Session],
    customer_id: str,
    registration_id: str,
    kind: str,
    certificate_ref: str,
    certified_by: str,
    valid_from: date,
    valid_to: date | None,
    actor: str,
) -> Recorded:
    """Record a registration (idempotent by id with the same content; a conflict otherwise)
    and queue its review's start, in one transaction."""
    with sessions.begin() as s:
        row = protections.register_in(s, customer_id, registration_id, kind, certificate_ref,
                                      certified_by, valid_from, valid_to, actor)  # fmt: skip
        queued = queue_review(s, row, f"registration:{registration_id}")
        s.flush()
        s.expunge(row)
    wid = workflow_id(registration_id) if row.valid_to is not None else None
    return Recorded(row, queued, wid)


def review(
    sessions: sessionmaker[Session],
    registration_id: str,
    outcome: str,
    valid_to: date | None,
    actor: str,
) -> Recorded:
    """Decide a registration (`renewed` with a new end, or `ended`) and queue the `reviewed`
    signal to its review workflow, in one transaction (no review running: the relay skips
    the signal; the decision stands in the store regardless)."""
    with sessions.begin() as s:
        row = protections.review_in(s, registration_id, outcome, valid_to, actor)
        wid = workflow_id(registration_id)
        signal = RegistrationReviewed(row.review_outcome or "", str(row.valid_to or ""))
        told = outbox.signal_row(
            KIND, wid, "reviewed", signal, row.customer_id, f"review:{registration_id}"
        )
        queued = outbox.add(s, [told])
        s.flush()
        s.expunge(row)
    return Recorded(row, queued, wid)
