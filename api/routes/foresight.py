"""Seeing a policy change before rollout: diff, workload forecast, timeline simulation."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from api.deps import Db, require, state
from api.errors import ERROR_RESPONSES, ApiError
from services import forecast_run, policy_diff, simulation
from services.scenario import ScenarioProblem, parse
from store.credentials import Principal

router = APIRouter(prefix="/v1/policies", tags=["foresight"], responses=ERROR_RESPONSES)
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
