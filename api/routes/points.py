"""The points ledger over HTTP: a customer's balance, points earned in 12 months, tier and
movements; redemptions (bill credit or service) with a balance check; the expiry run."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator

from activities import policy_store
from api.deps import Db, require
from api.errors import ERROR_RESPONSES, ApiError
from services import points
from store.credentials import Principal
from store.models import Assignment, Customer

router = APIRouter(tags=["points"], responses=ERROR_RESPONSES)

_STATUS = {"insufficient": 409, "conflict": 409, "unknown_service": 422, "invalid": 422}


class MovementOut(BaseModel):
    """One ledger movement."""

    key: str
    kind: str = Field(description="opening, earn, redeem or expire.")
    points: int = Field(description="Signed: + earned, - spent or expired.")
    source: str
    at: datetime
    balance: int | None = Field(default=None, description="Balance after it (redemptions).")
    duplicate: bool = Field(default=False, description="The key was already booked.")
    detail: dict[str, Any] = Field(default_factory=dict)


class PointsOut(BaseModel):
    """A customer's points."""

    customer_id: str
    balance: int
    points_12m: int = Field(description="Points earned in the last 12 months (the tier's input).")
    tier: str | None
    movements: list[MovementOut]


class RedeemIn(BaseModel):
    """A redemption: exactly one of a bill credit or a service."""

    key: str = Field(min_length=1, max_length=150, description="Idempotency key of the movement.")
    bill_credit_yuan: float | None = Field(default=None, gt=0, le=100_000)
    service: str | None = Field(default=None, max_length=60)

    @model_validator(mode="after")
    def one_of(self) -> RedeemIn:
        if (self.bill_credit_yuan is None) == (self.service is None):
            raise ValueError("give exactly one of bill_credit_yuan or service")
        return self


def _customer(db: Db, principal: Principal, customer_id: str) -> Customer:
    row = db.get(Customer, customer_id)
    if row is None or row.status != "active" or not points.may_serve(db, principal, row):
        raise ApiError(404, "Not found", f"no active customer {customer_id}")
    return row


@router.get(
    "/v1/customers/{customer_id}/points",
    response_model=PointsOut,
    summary="A customer's points balance, 12-month points, tier and latest movements.",
)
def get_points(
    customer_id: str,
    db: Db,
    principal: Annotated[Principal, Depends(require("crm", "agent", "supervisor", "auditor"))],
) -> PointsOut:
    """Newest movement first (up to 100). Agents: customers they have a task for or manage."""
    row = _customer(db, principal, customer_id)
    assignment = db.get(Assignment, customer_id)
    return PointsOut(
        customer_id=customer_id,
        balance=points.balance(db, customer_id),
        points_12m=row.points_12m or 0,
        tier=assignment.points_tier if assignment else None,
        movements=[
            MovementOut(
                key=m.key, kind=m.kind, points=m.points, source=m.source, at=m.at, detail=m.detail
            )
            for m in points.statement(db, customer_id)
        ],
    )


@router.post(
    "/v1/customers/{customer_id}/points/redemptions",
    response_model=MovementOut,
    status_code=201,
    summary="Redeem points as a bill credit or a service (oldest points first).",
)
def redeem(
    customer_id: str,
    body: RedeemIn,
    db: Db,
    principal: Annotated[Principal, Depends(require("agent", "crm", "supervisor"))],
) -> MovementOut:
    """409 when the balance is short; the same key again answers the first booking. Agents:
    customers they have a task for or manage."""
    _customer(db, principal, customer_id)
    bundle = policy_store.active_bundle(db)
    try:
        m = points.redeem(db, bundle, customer_id, body.key, principal.name,
                          bill_credit_yuan=body.bill_credit_yuan, service=body.service)  # fmt: skip
    except points.PointsError as err:
        db.rollback()
        raise ApiError(
            _STATUS.get(err.code, 422),
            "Redemption refused",
            errors=[{"path": err.path, "message": err.message, "code": err.code}],
        ) from err
    db.commit()
    return MovementOut(**{**m.__dict__, "detail": m.detail or {}})


class ExpiryOut(BaseModel):
    """What an expiry run did."""

    customers: int
    expired_points: int


@router.post(
    "/v1/points/expiry",
    response_model=ExpiryOut,
    summary="Expire points past their time, oldest first (a batch of customers).",
)
def expiry(db: Db, principal: Annotated[Principal, Depends(require("supervisor"))]) -> ExpiryOut:
    """Run it daily (or from a schedule); each customer in its own transaction."""
    due = points.expire_due(db)
    db.rollback()
    total = 0
    for cid in due:
        total -= sum(m.points for m in points.expire(db, cid, principal.name))
        db.commit()
    return ExpiryOut(customers=len(due), expired_points=total)
