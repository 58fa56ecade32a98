"""Customers (HTTP shape): the CRM pushes records; the response is the customer's new
assignment and the process transitions it queued (services/customers.py does the work)."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from activities import customers as customer_store
from api.batch_json import batch_body
from api.deps import Db, State, require
from api.errors import ERROR_RESPONSES, ApiError
from api.record_schema import record_schema
from api.schemas import (
    AssignmentOut,
    BatchOut,
    CustomerOut,
    CustomerPage,
    CustomerSummary,
    TransitionOut,
    UpsertOut,
)
from services import access, customers
from store.credentials import Principal
from store.models import Assignment, Customer

log = logging.getLogger("segflow.api")
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
    response_model=UpsertOut,
    summary="Create or update a customer and return its new assignment.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": record_schema(),
                    "examples": {"hospital": {"value": EXAMPLE}},
                }
            },
        }
    },
)
async def put_customer(
    customer_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")],
    request: Request,
    app: State,
    db: Db,
    principal: Annotated[Principal, Depends(require("crm"))],
) -> UpsertOut:
    """Validate the record, store it and segment it under the active policy. The record, the
    assignment, the audit entry and the process transitions the strategy asks for (start or
    stop a call-back, a key-account visit) are stored in one transaction and the answer comes
    at once: `transitions` lists them as `pending`. The outbox relay applies them to Temporal
    shortly after (normally well under a second); until then `GET /v1/customers/{id}` shows
    them under `pending_transitions`. Temporal being down does not refuse the upsert."""
    record = await _json_object(request)
    valid = customers.validate(record, customer_id)
    done = await run_in_threadpool(
        customers.upsert, db, app.engine_for, valid, principal.name, request.state.request_id
    )
    return UpsertOut(**done.assignment, transitions=[TransitionOut(**t) for t in done.transitions])


@router.get(
    "/{customer_id}", response_model=CustomerOut, summary="A customer, its assignment and why."
)
def get_customer(
    customer_id: str,
    db: Db,
    principal: Annotated[
        Principal, Depends(require("crm", "auditor", "supervisor", "agent", "inspector"))
    ],
) -> CustomerOut:
    """The stored record, the current assignment and its explanation, and the process
    transitions queued for the customer that the relay has not applied to Temporal yet.
    Agents and inspectors read only customers they have a task for (others: 404, as if
    absent)."""
    if not access.may_read_customer(db, principal, customer_id):
        raise ApiError(404, "Not found", f"no customer {customer_id}")
    view = customers.get(db, customer_id)
    return CustomerOut(
        record=view.record,
        status=view.status,
        assignment=AssignmentOut(**view.assignment) if view.assignment else None,
        explanation=view.explanation,
        pending_transitions=[TransitionOut(**t) for t in view.pending_transitions],
    )


async def _json_object(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ApiError(422, "Invalid body", f"not JSON: {err}") from err


async def _batch_records(request: Request) -> list[Any]:
    """A JSON array, or NDJSON (one record per line)."""
    raw = await request.body()
    ctype = request.headers.get("content-type", "")
    try:
        if "ndjson" in ctype or "jsonl" in ctype:
            return [json.loads(line) for line in raw.splitlines() if line.strip()]
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ApiError(422, "Invalid body", f"not JSON: {err}") from err
    if not isinstance(data, list):
        raise ApiError(422, "Invalid body", "expected a JSON array of customer records")
    return data


@router.post(
    ":batch",
    response_model=BatchOut,
    summary="Create or update up to 10,000 customers (JSON array or NDJSON).",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": {"type": "object"}},
                    "example": [EXAMPLE],
                },
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def batch(
    request: Request,
    app: State,
    db: Db,
    principal: Annotated[Principal, Depends(require("crm"))],
) -> Response:
    """A result per record, in input order. Valid records are stored and segmented even when
    others fail, in one transaction with the process transitions their strategies ask for;
    `transitions` lists those (pending: the outbox relay applies them to Temporal after the
    answer)."""
    records = await _batch_records(request)

    def work() -> bytes:
        done = customers.batch(db, app.engine_for, records, principal.name,
                               request.state.request_id)  # fmt: skip
        return batch_body(done)  # the BatchOut document, one encoding per combination

    return Response(await run_in_threadpool(work), media_type="application/json")


@router.get("", response_model=CustomerPage, summary="Customers by segment, paged.")
def list_customers(
    db: Db,
    _: Annotated[Principal, Depends(require("crm", "auditor", "supervisor"))],
    category: Annotated[str | None, Query(description="Level-1 category.")] = None,
    abc_class: Annotated[str | None, Query(description="A, B or C.")] = None,
    tag: Annotated[str | None, Query(description="A level-2 tag the customer carries.")] = None,
    tier: Annotated[str | None, Query(description="Points tier.")] = None,
    feeder_id: Annotated[str | None, Query(description="Feeder.")] = None,
    after: Annotated[str | None, Query(description="Page: customer ids after this one.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CustomerPage:
    """Keyset-paged by customer id; `next` is the `after` of the following page."""
    q = select(Customer.customer_id, Customer.feeder_id, Customer.status, Assignment).join(
        Assignment, Assignment.customer_id == Customer.customer_id, isouter=True
    )
    if category:
        q = q.where(Assignment.category == category)
    if abc_class:
        q = q.where(Assignment.abc_class == abc_class)
    if tier:
        q = q.where(Assignment.points_tier == tier)
    if feeder_id:
        q = q.where(Customer.feeder_id == feeder_id)
    if after:
        q = q.where(Customer.customer_id > after)
    q = q.order_by(Customer.customer_id)
    items: list[CustomerSummary] = []
    # tags are a JSON list: filter in Python, scanning in pages, so the result stays exact
    for cid, feeder, status, assignment in db.execute(q.execution_options(yield_per=1000)):
        if tag and (assignment is None or tag not in assignment.tags):
            continue
        items.append(
            CustomerSummary(
                customer_id=cid,
                feeder_id=feeder,
                status=status,
                assignment=AssignmentOut(**customer_store.assignment_json(assignment))
                if assignment
                else None,
            )
        )
        if len(items) > limit:
            break
    more = len(items) > limit
    items = items[:limit]
    return CustomerPage(items=items, next=items[-1].customer_id if more and items else None)
