"""KPIs by period and segment, as JSON or CSV (`format=csv` or `Accept: text/csv`)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import Db, require
from api.errors import ERROR_RESPONSES, ApiError
from services import kpis
from store.credentials import Principal

router = APIRouter(prefix="/v1/kpis", tags=["kpis"], responses=ERROR_RESPONSES)


class KpisOut(BaseModel):
    """KPI rows and what each column means."""

    period: str
    segment: str
    start: datetime
    end: datetime
    rows: list[dict[str, Any]] = Field(description="One row per period and segment.")
    definitions: dict[str, str]


@router.get(
    "",
    response_model=KpisOut,
    summary="KPIs by period and segment (JSON, or CSV with format=csv).",
    responses={200: {"content": {"text/csv": {}}}},
)
def get_kpis(
    request: Request,
    db: Db,
    _: Annotated[Principal, Depends(require("auditor", "supervisor", "policy_owner"))],
    period: Annotated[str, Query(description="month, week or day")] = "month",
    segment: Annotated[
        str, Query(description="all, category, abc_class, points_tier or tag")
    ] = "all",
    start: Annotated[
        datetime | None, Query(alias="from", description="Start (default: a year ago).")
    ] = None,
    end: Annotated[
        datetime | None, Query(alias="to", description="End, exclusive (default: now).")
    ] = None,
    format: Annotated[
        Literal["json", "csv"] | None, Query(description="csv for a CSV file")
    ] = None,
) -> Any:
    """Call-back completion, SLA compliance against each customer's own SLA, arrears
    recovered (amount, days), disconnections / reconnections on time, hazards closed, closure
    inspections, visits done vs planned, satisfaction. Definitions in the answer and in
    docs/kpis.md."""
    try:
        q = kpis.Query(period, segment, start, end).check()
    except kpis.KpiError as err:
        raise ApiError(
            422, "Invalid query", errors=[{"path": f"query.{err.path}", "message": err.message}]
        ) from err
    rows = kpis.compute(db, q)
    if format == "csv" or (format is None and "text/csv" in request.headers.get("accept", "")):
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=kpis.COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="kpis-{period}-{segment}.csv"'},
        )
    assert q.start is not None and q.end is not None
    return KpisOut(period=period, segment=segment, start=q.start, end=q.end, rows=rows,
                   definitions=kpis.DEFINITIONS)  # fmt: skip
