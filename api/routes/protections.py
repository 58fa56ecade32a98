"""Protections of the arrears ladder: life-support / medical registrations, holds, moratoria.

Each write is one store transaction (in the thread pool) with its audit entry (a registration
and a review also with their review workflow's outbox transition); after the commit the
running ladders it affects get a `protection_changed` signal. The check at the moment of
every irreversible step reads the store anyway.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import State, require
from api.errors import ERROR_RESPONSES, ApiError
from services import protection_signals as signals
from services import protections as svc
from services import registration_reviews as reviews
from store.credentials import Principal
from workflows.arrears_payloads import ProtectionChanged

router = APIRouter(prefix="/v1", tags=["protections"], responses=ERROR_RESPONSES)
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
STATUS = {"invalid": 422, "not_found": 404, "conflict": 409}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegistrationIn(_In):
    """A life-support or medical registration with its certificate."""

    registration_id: Id
    kind: Literal["life_support", "medical"]
    certificate_ref: str = Field(min_length=1, max_length=200, description="Certificate number.")
    certified_by: str = Field(min_length=1, max_length=200, description="Doctor / health board.")
    valid_from: date
    valid_to: date | None = Field(default=None, description="End of the certificate; none: open.")


class ReviewIn(_In):
    """A review's decision on an expiring or expired registration."""

    outcome: Literal["renewed", "ended"]
    valid_to: date | None = Field(default=None, description="The new end (renewed).")


class HoldIn(_In):
    """Something that holds the ladder until resolved."""

    hold_id: Id
    kind: Literal["dispute", "complaint", "hardship_application", "payment_plan"]
    bill_id: Id | None = Field(default=None, description="The bill concerned; none: every bill.")
    reference: str = Field(default="", max_length=200, description="Case / application number.")


class ResolveIn(_In):
    """How the hold ended."""

    resolution: str = Field(min_length=1, max_length=200)


class MoratoriumIn(_In):
    """Days without disconnections (extreme weather, emergencies)."""

    moratorium_id: Id
    first_day: date
    last_day: date
    reason: str = Field(min_length=1, max_length=200)


def _problem(err: svc.ProtectionError) -> ApiError:
    return ApiError(
        STATUS.get(err.code, 422),
        "Rejected",
        err.message,
        errors=[{"path": err.path, "message": err.message}],
    )


async def _run(fn: Any, *args: Any) -> Any:
    try:
        return await run_in_threadpool(fn, *args)
    except svc.ProtectionError as err:
        raise _problem(err) from err


@router.post(
    "/customers/{customer_id}/registrations",
    status_code=201,
    summary="Register life support / a medical certificate (protects from cut-off).",
)
async def post_registration(
    customer_id: str,
    body: RegistrationIn,
    app: State,
    who: Annotated[Principal, Depends(require("crm", "supervisor"))],
) -> dict[str, Any]:
    """Idempotent by `registration_id`; the customer's running ladders are told at once. A
    registration with an end date gets a review workflow: its start is queued with the
    registration (`transitions`, applied by the relay shortly after this answer)."""
    done = await _run(
        reviews.register,
        app.sessions,
        customer_id,
        body.registration_id,
        body.kind,
        body.certificate_ref,
        body.certified_by,
        body.valid_from,
        body.valid_to,
        who.name,
    )
    row = done.registration
    told = await signals.signal_ladders(
        app.temporal, customer_id, ProtectionChanged(body.kind, True, body.registration_id)
    )
    return {
        "registration_id": row.registration_id,
        "status": row.status,
        "signalled": told,
        "review_workflow": done.review_workflow,
        "transitions": done.transitions,
    }


@router.post(
    "/registrations/{registration_id}/review",
    summary="Decide an expiring / expired registration: renewed or ended.",
)
async def post_review(
    registration_id: str,
    body: ReviewIn,
    app: State,
    who: Annotated[Principal, Depends(require("supervisor"))],
) -> dict[str, Any]:
    """An expired registration protects until this decision. The review workflow is told
    through the outbox (`transitions`); the customer's running ladders at once."""
    done = await _run(
        reviews.review, app.sessions, registration_id, body.outcome, body.valid_to, who.name
    )
    row = done.registration
    told = await signals.signal_ladders(
        app.temporal,
        row.customer_id,
        ProtectionChanged(row.kind, body.outcome == "renewed", registration_id),
    )
    return {
        "registration_id": registration_id,
        "status": row.status,
        "valid_to": row.valid_to,
        "signalled": told,
        "transitions": done.transitions,
    }


@router.post(
    "/customers/{customer_id}/holds",
    status_code=201,
    summary="Hold the arrears ladder (dispute, complaint, aid application, plan).",
)
async def post_hold(
    customer_id: str,
    body: HoldIn,
    app: State,
    who: Annotated[Principal, Depends(require("crm", "supervisor"))],
) -> dict[str, Any]:
    """Idempotent by `hold_id`."""
    row = await _run(
        svc.open_hold,
        app.sessions,
        customer_id,
        body.hold_id,
        body.kind,
        body.bill_id,
        body.reference,
        who.name,
    )
    told = await signals.signal_ladders(
        app.temporal, customer_id, ProtectionChanged(body.kind, True, body.hold_id)
    )
    return {"hold_id": row.hold_id, "status": row.status, "signalled": told}


@router.post("/holds/{hold_id}/resolve", summary="End a hold; waits resume re-anchored.")
async def post_resolve(
    hold_id: str,
    body: ResolveIn,
    app: State,
    who: Annotated[Principal, Depends(require("crm", "supervisor"))],
) -> dict[str, Any]:
    """A stale notice is served again before any cut-off."""
    row = await _run(svc.resolve_hold, app.sessions, hold_id, body.resolution, who.name)
    told = await signals.signal_ladders(
        app.temporal, row.customer_id, ProtectionChanged(row.kind, False, hold_id)
    )
    return {"hold_id": hold_id, "status": row.status, "signalled": told}


@router.post(
    "/moratoria", status_code=201, summary="Declare days without disconnections (extreme weather)."
)
async def post_moratorium(
    body: MoratoriumIn,
    app: State,
    who: Annotated[Principal, Depends(require("supervisor"))],
) -> dict[str, Any]:
    """Every running ladder looks at the calendar again before its next slot."""
    row = await _run(
        svc.declare_moratorium,
        app.sessions,
        body.moratorium_id,
        body.first_day,
        body.last_day,
        body.reason,
        who.name,
    )
    told = await signals.signal_ladders(
        app.temporal, None, ProtectionChanged("moratorium", True, body.moratorium_id)
    )
    return {"moratorium_id": row.moratorium_id, "signalled": len(told)}
