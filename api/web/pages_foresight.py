"""Pages that show a policy change before rollout: the meaning-level diff of two versions,
the workload forecast and the simulated timeline of one customer. Thin: they call services."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import state
from api.web import charts_time
from api.web.common import checked_fields, render, user
from api.web.i18n import N_
from services import forecast_run, policy_diff, simulation
from services.scenario import ScenarioProblem, parse_text

router = APIRouter()
READERS = ("policy_owner", "auditor", "supervisor")
NOT_FOUND = N_("Not found")
# the diff's meanings and kinds of change, shown through t() (rules.diff names them)
DIFF_TERMS = (
    N_("threshold"), N_("rule"), N_("step"), N_("combine"), N_("action"), N_("strategy"),
    N_("parameter"), N_("process"), N_("process link"), N_("segmentation"), N_("calendar"),
    N_("points rule"), N_("added"), N_("removed"), N_("changed"), N_("moved"),
    N_("observed"), N_("policy"), N_("definition"),
)  # fmt: skip


@router.get("/policies/{version}/diff")
async def diff_page(request: Request, version: str, against: str | None = None) -> Response:
    """Changes in meaning from `against` (default: the active version) to `version`."""
    sess, _ = user(request, *READERS)

    def work() -> dict[str, Any]:
        with state(request).sessions() as db:
            return policy_diff.diff_versions(db, against or None, version)

    try:
        report = await run_in_threadpool(work)  # YAML parsing is CPU work off the loop
    except policy_diff.UnknownVersion:
        return render(request, sess, "message.html", 404, message=NOT_FOUND)
    return render(request, sess, "foresight_diff.html", report=report, version=version)


EXAMPLE = """\
name: bill overdue on day 3, no payment
customer:
  customer_id: SIM-1
  tariff: residential
  annual_revenue: 1200
  contacts: {phone: "+86 138 0000 0001", wechat: wx_sim1}
abc_class: C
days: 40
events:
  - {day: 3, type: bill_overdue, data: {bill_id: B1, amount: 420.0}}
answers:
  collection: {outcome: promised}
  prepayment_conversion: {outcome: refused}
"""


def _lane(step: str, workflow_id: str | None) -> str:
    if workflow_id:
        return workflow_id.split(":", 1)[0]
    return step.split(":", 1)[0]


@router.get("/policies/{version}/simulate")
async def simulate_form(request: Request, version: str) -> Response:
    """The scenario form (YAML, prefilled with an example)."""
    sess, _ = user(request, *READERS)
    return render(request, sess, "foresight_simulate.html", version=version, text=EXAMPLE,
                  timeline=None, problems=[])  # fmt: skip


@router.post("/policies/{version}/simulate")
async def simulate_run(request: Request, version: str) -> Response:
    """Run the scenario; the timeline as a table and a lane chart, or the problems by field."""
    sess, _ = user(request, *READERS)
    fields = await checked_fields(request, sess)
    text = fields.get("scenario", "").replace("\r\n", "\n")
    app = state(request)
    try:
        sc = parse_text(text, "scenario")
        timeline = await simulation.simulate_stored(app.sessions, sc, version, app.settings)
    except ScenarioProblem as err:
        problems = [{"path": path, "message": message} for path, message in err.issues]
        return render(request, sess, "foresight_simulate.html", 422, version=version, text=text,
                      timeline=None, problems=problems)  # fmt: skip
    except (policy_diff.UnknownVersion, simulation.UnknownCustomer) as err:
        problems = [{"path": err.path, "message": str(err)}]
        return render(request, sess, "foresight_simulate.html", 404, version=version, text=text,
                      timeline=None, problems=problems)  # fmt: skip
    points = [(_lane(e.step, e.workflow_id), e.day, e.step) for e in timeline.entries]
    chart = charts_time.lanes("timeline", points, timeline.days)
    return render(request, sess, "foresight_simulate.html", version=version, text=text,
                  timeline=timeline, problems=[], chart=chart)  # fmt: skip


async def _forecast(request: Request, version: str) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        with state(request).sessions() as db:
            return forecast_run.report(db, version)

    return await run_in_threadpool(work)  # segments the population: CPU work off the loop


@router.get("/policies/{version}/forecast")
async def forecast_page(request: Request, version: str) -> Response:
    """Tasks per queue and week against capacity (charts + tables), per named assignee, the
    baseline (the active version) and every assumption."""
    sess, _ = user(request, *READERS)
    try:
        data = await _forecast(request, version)
    except policy_diff.UnknownVersion:
        return render(request, sess, "message.html", 404, message=NOT_FOUND)
    charts = {
        q: charts_time.columns(q, series, data["capacity"].get(q))
        for q, series in data["queues"].items()
    }
    base = data.get("baseline") or {}
    totals = {
        q: (sum(v), sum((base.get("queues") or {}).get(q, []))) for q, v in data["queues"].items()
    }
    return render(request, sess, "foresight_forecast.html", version=version, data=data,
                  charts=charts, totals=totals, has_baseline=bool(base))  # fmt: skip


@router.get("/policies/{version}/forecast.csv")
async def forecast_csv(request: Request, version: str) -> Response:
    """The same forecast as CSV (the API's `?format=csv`)."""
    sess, _ = user(request, *READERS)
    try:
        data = await _forecast(request, version)
    except policy_diff.UnknownVersion:
        return render(request, sess, "message.html", 404, message=NOT_FOUND)
    buffer = io.StringIO()
    csv.writer(buffer).writerows(forecast_run.csv_rows(data))
    return Response(buffer.getvalue(), media_type="text/csv")
