"""Customers: the CRM pushes records; the response is the customer's new assignment."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

import rules
from activities import customers as customer_store
from activities import policy_store, processes
from api.deps import AppState, Db, GatedDb, State, require
from api.errors import ERROR_RESPONSES, ApiError
from api.record_schema import record_schema
from api.schemas import (
    AssignmentOut,
    BatchItem,
    BatchOut,
    CustomerOut,
    CustomerPage,
    CustomerSummary,
)
from services import abc_cuts, access
from store import audit
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
    response_model=AssignmentOut,
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
    db: GatedDb,
    principal: Annotated[Principal, Depends(require("crm"))],
) -> AssignmentOut:
    """Validate the record, store it, segment it under the active policy, and start or stop
    the processes its strategy asks for. Nothing is stored if Temporal cannot be reached."""
    record = await _json_object(request)
    if record.get("customer_id", customer_id) != customer_id:
        raise ApiError(
            422,
            "Invalid record",
            errors=[{"path": "customer_id", "message": "does not match the URL"}],
        )
    try:
        valid = rules.validate_record({**record, "customer_id": customer_id})
    except rules.RecordError as err:
        raise ApiError(
            422,
            "Invalid customer record",
            errors=[{"path": i.path, "message": i.message} for i in err.issues],
        ) from err

    def write() -> tuple[rules.Assignment, dict[str, Any] | None]:
        bundle = _active(db)
        return customer_store.upsert(
            db, app.engine_for(bundle), bundle, valid, principal.name, request.state.request_id
        )

    # store work runs in the thread pool: a store lock wait must never block the event loop
    # that the open transaction's own Temporal calls need to finish
    result, before = await run_in_threadpool(write)
    transitions = processes.diff(customer_id, before and before["processes"], result.processes)
    await _apply_or_rollback(app, db, [transitions])
    return AssignmentOut(**result.to_json())


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
    """The stored record, the current assignment and its explanation. Agents and inspectors
    read only customers they have a task for (others: 404, as if absent)."""
    row = db.get(Customer, customer_id)
    if row is None or not access.may_read_customer(db, principal, customer_id):
        raise ApiError(404, "Not found", f"no customer {customer_id}")
    assignment = db.get(Assignment, customer_id)
    explanation = None
    if assignment is not None:
        version = policy_store.bundle_of_version(db, assignment.policy_version)
        explanation = rules.explain(version, customer_store.record_of(row), assignment.abc_class)
    return CustomerOut(
        record=customer_store.record_of(row),
        status=row.status,
        assignment=AssignmentOut(**customer_store.assignment_json(assignment))
        if assignment
        else None,
        explanation=explanation,
    )


MAX_BATCH = 10_000


def _active(db: Session) -> rules.Bundle:
    try:
        return policy_store.active_bundle(db)
    except LookupError as err:
        raise ApiError(409, "No active policy", "activate a policy version first") from err


async def _apply_or_rollback(
    app: AppState, db: Session, transitions: list[processes.Transitions]
) -> None:
    """Start/stop the processes, then commit; if Temporal fails nothing is stored (503)."""
    try:
        await processes.apply(
            app.temporal, app.settings.task_queue, transitions, app.settings.start_concurrency
        )
    except Exception as err:
        log.warning("process transitions failed: %s", err, exc_info=True)
        await run_in_threadpool(db.rollback)
        raise ApiError(503, "Temporal unavailable", "nothing was stored; retry later") from err
    await run_in_threadpool(db.commit)


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ApiError(422, "Invalid body", f"not JSON: {err}") from err
    if not isinstance(data, dict):
        raise ApiError(422, "Invalid body", "expected a JSON object (the customer record)")
    return data


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
    db: GatedDb,
    principal: Annotated[Principal, Depends(require("crm"))],
) -> BatchOut:
    """A result per record, in input order. Valid records are stored and segmented even when
    others fail; the processes their strategies ask for are started."""
    records = await _batch_records(request)
    if len(records) > MAX_BATCH:
        raise ApiError(413, "Too many records", f"at most {MAX_BATCH} per batch")
    results: list[BatchItem] = []
    valid: dict[str, dict[str, Any]] = {}
    for index, raw in enumerate(records):
        try:
            rec = rules.validate_record(raw)
        except rules.RecordError as err:
            results.append(
                BatchItem(
                    index=index,
                    customer_id=_cid(raw),
                    ok=False,
                    errors=[{"path": i.path, "message": i.message} for i in err.issues],
                )
            )
            continue
        valid[rec["customer_id"]] = rec  # a later duplicate wins, like sequential PUTs
        results.append(BatchItem(index=index, customer_id=rec["customer_id"], ok=True))
    assignments: dict[str, AssignmentOut] = {}
    transitions: list[processes.Transitions] = []

    def write() -> None:
        bundle = _active(db)
        engine = app.engine_for(bundle)
        rows = {cid: customer_store.store_record(db, rec)[0] for cid, rec in valid.items()}
        db.flush()
        cuts = abc_cuts.current(db, bundle)
        for cid, row in rows.items():
            result, before = customer_store.assign(db, engine, bundle, row, cuts)
            assignments[cid] = AssignmentOut(**result.to_json())
            transitions.append(
                processes.diff(cid, before and before["processes"], result.processes)
            )
        audit.append(
            db,
            actor=principal.name,
            action="customer.batch_upserted",
            target="customers",
            request_id=request.state.request_id,
            policy_version=bundle.version,
            detail={
                "received": len(records),
                "stored": len(rows),
                "digest": audit.digest(sorted(valid)),
            },
        )

    await run_in_threadpool(write)
    await _apply_or_rollback(app, db, transitions)
    for item in results:
        if item.ok and item.customer_id is not None:
            item.assignment = assignments[item.customer_id]
    return BatchOut(
        received=len(records),
        stored=len(valid),
        failed=sum(not r.ok for r in results),
        results=results,
    )


def _cid(raw: Any) -> str | None:
    value = raw.get("customer_id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


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
