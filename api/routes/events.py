"""CRM events (HTTP shape): validated per type, idempotent by event id; services/events.py
routes them to processes (through the outbox) and the points rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import Db, State, require
from api.errors import ERROR_RESPONSES
from services import events
from store import audit
from store.credentials import Principal

router = APIRouter(prefix="/v1/events", tags=["events"], responses=ERROR_RESPONSES)

EventType = Literal[
    "bill_overdue", "payment_received", "payment_plan_agreed", "instalment_missed",
    "closure_requested", "inspection_findings", "rectification_reported", "complaint",
    "planned_outage", "service_request", "new_installation",
    "life_support_registered", "bill_disputed", "hardship_application", "hold_resolved",
]  # fmt: skip


class EventIn(BaseModel):
    """An event from the CRM; `data` depends on `type` (see services/event_data.py)."""

    event_id: str = Field(min_length=1, max_length=100, description="Makes the event idempotent.")
    type: EventType
    customer_id: str | None = Field(
        default=None, max_length=64, description="Required except for planned_outage."
    )
    occurred_at: datetime | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"event_id": "ev-1001", "type": "bill_overdue", "customer_id": "C000123",
                 "data": {"bill_id": "B2026-10", "amount": 1830.5}},
                {"event_id": "ev-1002", "type": "payment_received", "customer_id": "C000123",
                 "data": {"bill_id": "B2026-10", "amount": 1830.5, "channel": "online",
                          "settled": True}},
            ]
        }
    }  # fmt: skip


@router.post("", summary="Deliver a CRM event (idempotent by event_id).")
async def post_event(
    body: EventIn,
    request: Request,
    app: State,
    db: Db,
    principal: Annotated[Principal, Depends(require("crm"))],
) -> JSONResponse:
    """200 with what the event did; a re-sent identical event gets the first answer; the same
    event id with other content gets 409, and so does a start whose business key is already
    taken by another input (e.g. the same bill overdue with another amount).

    The answer comes once the event is stored: the processes it starts or signals are queued
    in the outbox (`transitions`, pending) in the same transaction and applied to Temporal by
    the relay right after, so `routed_to` names workflows that may not run yet. A signal to a
    process that has ended meanwhile is recorded as `skipped`."""
    event = events.Event(
        body.event_id, body.type, body.customer_id, body.data,
        audit.digest(body.model_dump(mode="json")),
    )  # fmt: skip
    response = await run_in_threadpool(
        events.accept, db, app.engine_for, event, principal.name, request.state.request_id
    )
    if not response.get("duplicate"):
        for kind in response["started"]:
            app.metrics.workflows_started.labels(kind).inc()
    return JSONResponse(response)
