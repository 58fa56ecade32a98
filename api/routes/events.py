"""CRM events: validated per type, idempotent by event id, routed to workflows and rules."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from temporalio.service import RPCError

from activities import events, policy_store, workflow_starts
from api.deps import GatedDb, State, require
from api.errors import ERROR_RESPONSES, ApiError
from store import audit
from store.credentials import Principal
from store.models import Customer, ProcessedEvent

router = APIRouter(prefix="/v1/events", tags=["events"], responses=ERROR_RESPONSES)

EventType = Literal[
    "bill_overdue", "payment_received", "payment_plan_agreed", "instalment_missed",
    "closure_requested", "inspection_findings", "rectification_reported", "complaint",
    "planned_outage", "service_request", "new_installation",
]  # fmt: skip


class EventIn(BaseModel):
    """An event from the CRM; `data` depends on `type` (see the schemas of activities.events)."""

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
    db: GatedDb,
    principal: Annotated[Principal, Depends(require("crm"))],
) -> JSONResponse:
    """200 with what the event did; a re-sent identical event gets the first answer;
    the same event id with other content gets 409."""
    digest = audit.digest(body.model_dump(mode="json"))
    seen = db.get(ProcessedEvent, body.event_id)
    if seen is not None:
        if seen.digest != digest:
            raise ApiError(409, "Conflict", "event_id already used for a different event")
        return JSONResponse({**seen.response, "duplicate": True})
    try:
        # JSON-mode strict: ISO timestamps parse, "50" never becomes 50
        data = events.DATA[body.type].model_validate_json(json.dumps(body.data))
    except ValidationError as err:
        raise ApiError(422, "Invalid event data", errors=[
            {"path": ".".join(["data", *(str(p) for p in e["loc"])]), "message": e["msg"]}
            for e in err.errors()]) from err  # fmt: skip
    if body.type not in events.CUSTOMERLESS:
        if not body.customer_id:
            raise ApiError(422, "Invalid event", errors=[
                {"path": "customer_id", "message": f"required for {body.type}"}])  # fmt: skip
        if db.get(Customer, body.customer_id) is None:
            raise ApiError(422, "Invalid event", errors=[
                {"path": "customer_id", "message": "unknown customer"}])  # fmt: skip
    try:
        bundle = policy_store.active_bundle(db)
    except LookupError as err:
        raise ApiError(409, "No active policy", "activate a policy version first") from err
    ctx = events.Context(db, app.temporal, app.settings.task_queue, app.engine_for(bundle),
                         bundle, principal.name, body.event_id)  # fmt: skip
    try:
        result = await events.route(ctx, body.type, body.customer_id, data)
    except workflow_starts.InputConflict as err:
        db.rollback()
        raise ApiError(409, "Conflict", str(err)) from err
    except LookupError as err:
        db.rollback()
        raise ApiError(409, "Conflict", str(err)) from err
    except RPCError as err:
        db.rollback()
        raise ApiError(503, "Temporal unavailable", "nothing was recorded; retry") from err
    response = {"event_id": body.event_id, "type": body.type, **result}
    db.add(
        ProcessedEvent(
            event_id=body.event_id,
            type=body.type,
            customer_id=body.customer_id or "",
            digest=digest,
            response=response,
        )
    )
    audit.append(db, actor=principal.name, action=f"event.{body.type}",
                 target=f"event:{body.event_id}", customer_id=body.customer_id,
                 request_id=request.state.request_id, policy_version=bundle.version,
                 detail={"data": body.data, "routed_to": result["routed_to"]})  # fmt: skip
    db.commit()
    for kind in result["started"]:
        app.metrics.workflows_started.labels(kind).inc()
    return JSONResponse(response)
