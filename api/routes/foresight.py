"""Seeing a policy change before rollout: diff, workload forecast, timeline simulation."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import Db, require, state
from api.errors import ERROR_RESPONSES, ApiError
from services import forecast_run, policy_diff, simulation, staging
from services.scenario import ScenarioProblem, parse
from store.credentials import Principal

router = APIRouter(prefix="/v1/policies", tags=["foresight"], responses=ERROR_RESPONSES)

# a stage id is a store integer: anything past the column's range is a 422, never a 500
StageId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The stage's id.")]
READERS = ("policy_owner", "auditor", "supervisor")


def unknown(err: policy_diff.UnknownVersion) -> ApiError:
    """404 naming the parameter that held the unknown version."""
    return ApiError(404, "Not found", str(err), errors=[{"path": err.path, "message": str(err)}])


@router.get(
    "/{version}/diff",
    summary="What changed in meaning from another version (default: the active one).",
)
def diff(
    version: str,
    db: Db,
    _: Annotated[Principal, Depends(require(*READERS))],
    against: Annotated[
        str | None, Query(description="The version to compare with; default: the active one.")
    ] = None,
) -> dict[str, Any]:
    """Each change: meaning (threshold, rule, step, combine, action, strategy, process, ...),
    added / removed / changed / moved, the YAML path (named list items as `[id=...]`), old
    and new values, and `file:line` on both sides."""
    try:
        return policy_diff.diff_versions(db, against, version)
    except policy_diff.UnknownVersion as err:
        raise unknown(err) from err


def scenario_problem(err: ScenarioProblem) -> ApiError:
    """422 with one error per field path."""
    return ApiError(
        422, "Invalid scenario", f"{len(err.issues)} problem(s)",
        errors=[{"path": path, "message": message} for path, message in err.issues],
    )  # fmt: skip


@router.post(
    "/{version}/simulate",
    summary="The timeline one customer would see under this version, given a scenario.",
)
async def simulate(
    version: str,
    body: Annotated[
        dict[str, Any], Body(description="customer or customer_id, events, answers, days, start")
    ],
    request: Request,
    _: Annotated[Principal, Depends(require(*READERS))],
) -> dict[str, Any]:
    """Runs the real workflow code on a private time-skipping engine with a throwaway store
    (adapters record there): the live store is only read (the version, a stored customer,
    its ABC rank), the live Temporal never called. Takes a few seconds. Each entry: day,
    date, step (`arrears.started`, `task:collection`, `sms:disconnection_notice`,
    `answer:collection`, `event.bill_overdue`), workflow id, detail."""
    try:
        sc = parse(body)
        timeline = await simulation.simulate_stored(
            state(request).sessions, sc, version, state(request).settings
        )
    except ScenarioProblem as err:
        raise scenario_problem(err) from err
    except policy_diff.UnknownVersion as err:
        raise unknown(err) from err
    except simulation.UnknownCustomer as err:
        raise ApiError(
            404, "Not found", str(err), errors=[{"path": err.path, "message": str(err)}]
        ) from err
    return timeline.to_json()


@router.get(
    "/{version}/forecast",
    summary="Tasks per queue, kind and named assignee per week for 13 weeks (JSON or CSV).",
    responses={200: {"content": {"text/csv": {}}, "description": "The forecast."}},
)
def forecast(
    version: str,
    db: Db,
    _: Annotated[Principal, Depends(require(*READERS))],
    format: Annotated[Literal["json", "csv"], Query(description="json (default) or csv.")] = "json",
    weeks: Annotated[int, Query(ge=1, le=52, description="How many weeks ahead.")] = 13,
) -> Any:
    """From the process definitions, the stored population segmented under the version and
    the outcome rates observed in the store (the version's `forecast.defaults` where nothing
    was observed): `queues`, `kinds` (`queue/kind`) and `assignees` (named account managers)
    map to one number per week; `capacity` is tasks per week (staff x tasks per person per
    day x working days, from the version's `forecast` section); `over_capacity` lists the
    weeks above it; `assumptions` every number used and its source. A version other than
    the active one also gets `baseline`: the active version's forecast."""
    try:
        data = forecast_run.report(db, version, weeks)
    except policy_diff.UnknownVersion as err:
        raise unknown(err) from err
    if format == "csv":
        buffer = io.StringIO()
        csv.writer(buffer).writerows(forecast_run.csv_rows(data))
        name = version.replace(":", "-")
        return Response(buffer.getvalue(), media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="forecast-{name}.csv"'})  # fmt: skip
    return data


class StageIn(BaseModel):
    """A staged activation: a share of the customers (stable hash of the id) or a segment."""

    model_config = ConfigDict(extra="forbid")
    share: float | None = Field(default=None, description="Share in (0, 1].")
    dimension: Literal["category", "abc_class", "tag", "points_tier"] | None = None
    value: str | None = Field(default=None, max_length=64, description="The segment's value.")


class WidenIn(BaseModel):
    """A larger share for a running stage."""

    model_config = ConfigDict(extra="forbid")
    share: float = Field(description="New share, above the current one, at most 1.")


OWNER = ("policy_owner",)


@router.post(
    "/{version}/stage",
    status_code=201,
    summary="Activate a version for a share or a segment first.",
)
async def stage(
    version: str, body: StageIn, request: Request, db: Db,
    principal: Annotated[Principal, Depends(require(*OWNER))],
) -> dict[str, Any]:  # fmt: skip
    """Pins the customers the stage covers to `version` (their assignments re-segmented under
    it, process transitions queued in the outbox, one transaction); later upserts of a
    pinned customer keep the staged version and its explanation says `staged`. 409 while
    another stage runs."""
    return await run_in_threadpool(
        staging.start, db, state(request).engine_for, version, principal.name,
        share=body.share, dimension=body.dimension, value=body.value,
    )  # fmt: skip


@router.get("/stages/{stage_id}", summary="A stage and the KPIs of its two groups.")
def stage_kpis(
    stage_id: StageId, db: Db, _: Annotated[Principal, Depends(require(*READERS))]
) -> dict[str, Any]:
    """Customers, tasks per customer, completion, on-time share and call-back reach of the
    staged customers and of the rest, since the stage started."""
    return staging.compare(db, stage_id)


@router.post("/stages/{stage_id}/widen", summary="Raise a share stage's share.")
async def widen(
    stage_id: StageId, body: WidenIn, request: Request, db: Db,
    principal: Annotated[Principal, Depends(require(*OWNER))],
) -> dict[str, Any]:  # fmt: skip
    """Earlier members stay pinned (the hash is stable); new members are pinned as at start."""
    return await run_in_threadpool(
        staging.widen, db, state(request).engine_for, stage_id, body.share, principal.name
    )


@router.post("/stages/{stage_id}/rollback", summary="Unpin the stage's customers.")
async def rollback_stage(
    stage_id: StageId, request: Request, db: Db,
    principal: Annotated[Principal, Depends(require(*OWNER))],
) -> dict[str, Any]:  # fmt: skip
    """Re-segments the pinned customers under the active version (transitions queued) and
    removes the pins; the stage is `rolled_back`."""
    return await run_in_threadpool(
        staging.rollback, db, state(request).engine_for, stage_id, principal.name
    )
