"""The outage planning view over HTTP: a feeder's customers in planning order (JSON or CSV)
and the objections waiting for the planner."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from api.deps import Db, require
from api.errors import ERROR_RESPONSES, ApiError
from services import outage_plan
from store.credentials import Principal

router = APIRouter(prefix="/v1/feeders", tags=["outages"], responses=ERROR_RESPONSES)
FeederId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


@router.get(
    "/{feeder_id}/outage-plan",
    summary="Customers on the feeder for outage planning, sensitive first (JSON or CSV).",
    responses={200: {"content": {"text/csv": {}}}},
)
def get_plan(
    feeder_id: FeederId,
    request: Request,
    db: Db,
    _: Annotated[Principal, Depends(require("supervisor", "auditor"))],
    format: Annotated[
        Literal["json", "csv"] | None, Query(description="csv for a CSV file")
    ] = None,
) -> Any:
    """Each customer's outage count and minutes in 12 months and what its strategy asks for;
    `reviews`: objections and reschedule requests waiting for the planner (complete the
    `outage_plan_review` task to confirm or move the outage). 404 for a feeder without
    customers."""
    try:
        plan = outage_plan.feeder_plan(db, feeder_id)
    except LookupError as err:
        raise ApiError(409, "No active policy", "activate a policy version first") from err
    if not plan["customers"]:
        raise ApiError(404, "Not found", f"no active customers on feeder {feeder_id}")
    if format == "csv" or (format is None and "text/csv" in request.headers.get("accept", "")):
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=outage_plan.COLUMNS)
        writer.writeheader()
        for c in plan["customers"]:
            writer.writerow({**c, "notice_channels": " ".join(c["notice_channels"])})
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="outage-plan-{feeder_id}.csv"'},
        )
    return plan
