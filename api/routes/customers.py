"""Customers: the CRM pushes records; the response is the customer's new assignment."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

import rules
from activities import customers as customer_store
from activities import policy_store
from activities import processes
from api.deps import Db, State, require
from api.errors import ERROR_RESPONSES, ApiError
from api.schemas import AssignmentOut, CustomerOut
from store.credentials import Principal
from store.models import Assignment, Customer

router = APIRouter(prefix="/v1/customers", tags=["customers"], responses=ERROR_RESPONSES)

EXAMPLE = {
    "customer_id": "C000123",
    "name": "Riverside Hospital",
    "important_registered": True,
    "tariff": "commercial",
    "capacity_kva": 800,
    "annual_revenue": 1250000.0,
    "outage_complaints_12m": 1,
    "backup_power_compliant": False,
    "contacts": {"phone": "+86 531 5550 0100", "sms_opt_in": True},
}


@router.put(
    "/{customer_id}",
    response_model=AssignmentOut,
    summary="Create or update a customer and return its new assignment.",
)
async def put_customer(
    customer_id: str,
    request: Request,
    app: State,
    db: Db,
    principal: Annotated[Principal, Depends(require("crm"))],
    record: Annotated[
        dict[str, Any],
        Body(
            description="The customer record contract (see docs/customer-record.md).",
            openapi_examples={"hospital": {"summary": "An important customer", "value": EXAMPLE}},
        ),
    ],
) -> AssignmentOut:
    """Validate the record, store it, segment it under the active policy, and start or stop
    the processes its strategy asks for. Nothing is stored if Temporal cannot be reached."""
    if record.get("customer_id", customer_id) != customer_id:
        raise ApiError(422, "Invalid record", errors=[
            {"path": "customer_id", "message": "does not match the URL"}])
    try:
        valid = rules.validate_record({**record, "customer_id": customer_id})
    except rules.RecordError as err:
        raise ApiError(422, "Invalid customer record", errors=[
            {"path": i.path, "message": i.message} for i in err.issues]) from err
    try:
        bundle = policy_store.active_bundle(db)
    except LookupError as err:
        raise ApiError(409, "No active policy", "activate a policy version first") from err
    result, before = customer_store.upsert(
        db, app.engine_for(bundle), bundle, valid, principal.name, request.state.request_id
    )
    transitions = processes.diff(customer_id, before and before["processes"], result.processes)
    try:
        await processes.apply(app.temporal, app.settings.task_queue, [transitions])
    except Exception as err:
        db.rollback()
        raise ApiError(503, "Temporal unavailable", "nothing was stored; retry later") from err
    db.commit()
    return AssignmentOut(**result.to_json())


@router.get("/{customer_id}", response_model=CustomerOut, summary="A customer, its assignment and why.")
def get_customer(
    customer_id: str,
    db: Db,
    _: Annotated[Principal, Depends(require("crm", "auditor", "supervisor", "agent"))],
) -> CustomerOut:
    """The stored record, the current assignment and its explanation."""
    row = db.get(Customer, customer_id)
    if row is None:
        raise ApiError(404, "Not found", f"no customer {customer_id}")
    assignment = db.get(Assignment, customer_id)
    explanation = None
    if assignment is not None:
        version = policy_store.bundle_of_version(db, assignment.policy_version)
        explanation = rules.explain(version, customer_store.record_of(row), assignment.abc_class)
    return CustomerOut(
        record=customer_store.record_of(row),
        status=row.status,
        assignment=AssignmentOut(**customer_store.assignment_json(assignment)) if assignment else None,
        explanation=explanation,
    )
