"""CRM events (HTTP shape): the body is validated into the discriminated union of
services/event_types.py (one member per event type, so the OpenAPI schema shows each type's
`data`); idempotent by event id; services/events.py routes them to processes (through the
outbox) and the points rules."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from api.deps import Db, State, require
from api.errors import ERROR_RESPONSES
from services import events
from services.event_types import EventIn, error_loc
from store.credentials import Principal


class EventRoute(APIRoute):
    """Names a refused field without pydantic's union tag: `data.<field>` for the event's
    data (as the service named it before the union), `body.<field>` for the envelope and
    `body.type` for an unknown type."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as err:
                errors = [
                    {**e, "loc": error_loc(e["loc"][1:], e["type"], ("body",))}
                    if e["loc"][:1] == ("body",)
                    else e
                    for e in err.errors()
                ]
                raise RequestValidationError(errors, body=err.body) from None

        return route


router = APIRouter(
    prefix="/v1/events", tags=["events"], responses=ERROR_RESPONSES, route_class=EventRoute
)

EXAMPLES: dict[str, Any] = {
    "bill_overdue": {"summary": "A bill is overdue", "value": {
        "event_id": "ev-1001", "type": "bill_overdue", "customer_id": "C000123",
        "data": {"bill_id": "B2026-10", "amount": 1830.5}}},
    "payment_received": {"summary": "A payment settles the arrears", "value": {
        "event_id": "ev-1002", "type": "payment_received", "customer_id": "C000123",
        "data": {"bill_id": "B2026-10", "amount": 1830.5, "channel": "online",
                 "settled": True}}},
    "planned_outage": {"summary": "A planned outage on a feeder (no customer)", "value": {
        "event_id": "ev-1003", "type": "planned_outage",
        "data": {"feeder_id": "F12", "outage_id": "O-77", "starts_at": "2026-12-03T08:00:00Z",
                 "ends_at": "2026-12-03T12:00:00Z"}}},
}  # fmt: skip


@router.post("", summary="Deliver a CRM event (idempotent by event_id).")
async def post_event(
    body: Annotated[
        EventIn,
        Body(
            description="A CRM event: `type` selects the schema of `data`.",
            openapi_examples=EXAMPLES,
        ),
    ],
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
    process that has ended meanwhile is recorded as `skipped`.

    `type` selects the schema of `data` (one member of the union per type). A refused value
    is a 422 problem+json naming its path: `data.<field>` inside the data (e.g.
    `data.hazards.0.severity`), `body.<field>` in the envelope, `body.type` for an unknown
    type; `customer_id` when the customer is missing or unknown. Each error carries a stable
    `code` (`missing`, `extra_forbidden`, `union_tag_invalid`, ...)."""
    response = await run_in_threadpool(
        events.accept, db, app.engine_for, body, principal.name, request.state.request_id
    )
    if not response.get("duplicate"):
        for kind in response["started"]:
            app.metrics.workflows_started.labels(kind).inc()
    return JSONResponse(response)
