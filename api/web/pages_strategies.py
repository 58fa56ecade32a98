"""Pages of the strategies: the outage planning view (planners = supervisors; auditors read)
and a customer's points with a redemption form (agents at the counter, supervisors).

Both call the same services as the API (services/outage_plan.py, services/points.py)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from activities import policy_store
from api.deps import state
from api.web.common import checked_fields, redirect, render, user
from api.web.i18n import N_
from services import outage_plan, points
from store.credentials import Principal
from store.models import Assignment, Customer

router = APIRouter()

# the offer keys of services/offers.py as the customer card shows them
OFFER_TEXT = {
    "telephone_acceptance": N_("All business can be accepted by telephone."),
    "paid_services": N_("Offer paid (value-added) services."),
    "prepayment_recommended": N_("Recommend a prepayment (cost-control) meter."),
    "channel_guidance": N_("Guide the customer to the online channels."),
    "info_push_topics": N_("Information to push"),
    "outage_archive": N_("Outage archive (12 months)"),
}


@router.get("/outages")
def outage_view(request: Request) -> Response:
    """`?feeder=F1`: the feeder's customers in planning order and the open reviews."""
    sess, _ = user(request, "supervisor", "auditor")
    feeder = request.query_params.get("feeder", "").strip()[:64]
    plan = None
    if feeder:
        with state(request).sessions() as db:
            plan = outage_plan.feeder_plan(db, feeder)
    return render(request, sess, "outages.html", feeder=feeder, plan=plan)


def _points_view(request: Request, principal: Principal, customer_id: str) -> dict[str, object]:
    with state(request).sessions() as db:
        row = db.get(Customer, customer_id)
        if row is not None and not points.may_serve(db, principal, row):
            row = None  # the same object check as the API: shown as not found
        assignment = db.get(Assignment, customer_id)
        services = policy_store.active_bundle(db).points.services
        return {
            "customer_id": customer_id,
            "found": row is not None,
            "balance": points.balance(db, customer_id),
            "points_12m": row.points_12m if row else 0,
            "tier": assignment.points_tier if assignment else None,
            "free_extended": bool((assignment.actions or {}).get("free_extended_services"))
            if assignment
            else False,
            "services": services,
            "movements": points.statement(db, customer_id, 20),
        }


@router.get("/customers/{customer_id}/points")
def points_page(customer_id: str, request: Request) -> Response:
    """Balance, 12-month points, tier, latest movements and the redemption form."""
    sess, principal = user(request, "agent", "supervisor", "auditor")
    view = _points_view(request, principal, customer_id[:64])
    return render(request, sess, "points.html", v=view, key=uuid.uuid4().hex)


@router.post("/customers/{customer_id}/points")
async def redeem(customer_id: str, request: Request) -> Response:
    """Redeem a service or a bill credit; a refusal is shown beside the form."""
    sess, principal = user(request, "agent", "supervisor")
    fields = await checked_fields(request, sess)
    choice = fields.get("service", "")
    credit = fields.get("bill_credit_yuan", "").strip()

    def book() -> str | None:
        with state(request).sessions() as db:
            row = db.get(Customer, customer_id)
            if row is None or not points.may_serve(db, principal, row):
                return N_("No such customer.")
            bundle = policy_store.active_bundle(db)
            try:
                yuan = float(credit) if credit and not choice else None
                if yuan is not None and not 0 < yuan <= 100_000:
                    return N_("The bill credit must be between 0 and 100000 yuan.")
                points.redeem(db, bundle, customer_id, fields.get("key") or uuid.uuid4().hex,
                              principal.name, bill_credit_yuan=yuan,
                              service=choice or None)  # fmt: skip
            except ValueError:
                return N_("The bill credit must be a number.")
            except points.PointsError as err:
                db.rollback()
                return err.message
            db.commit()
            return None

    problem = await run_in_threadpool(book)
    sess.flash(problem or N_("Points redeemed."))
    return redirect(request, sess, f"/web/customers/{customer_id}/points")
