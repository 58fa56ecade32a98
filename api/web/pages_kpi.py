"""KPI dashboard (paper 004): measurable outcomes of the strategies, with SVG charts, and
their trends per period and segment (services/kpis.py, as GET /v1/kpis).

Numbers come from what the store already records: task rows (call-backs, SLA, closure
inspections, re-inspections), the outbox (disconnect / reconnect orders), audit entries of
workflow steps (payments) and assignments (segment sizes). A KPI whose process has not run
yet shows zeros, not an error.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import state
from api.web import charts, i18n
from api.web.common import render, user
from services import kpis as kpi_service
from store.models import Assignment, AuditEntry, OutboxMessage, Task

router = APIRouter()
VIEWERS = ("auditor", "supervisor", "policy_owner")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _outcomes(db: Session, kinds: tuple[str, ...]) -> Counter[str]:
    """Completed tasks of `kinds` by outcome; open ones as 'open'."""
    counts: Counter[str] = Counter()
    for status, result in db.execute(select(Task.status, Task.result).where(Task.kind.in_(kinds))):
        if status == "completed" and isinstance(result, dict):
            counts[str(result.get("outcome", "completed"))] += 1
        elif status in ("open", "claimed"):
            counts["open"] += 1
    return counts


def kpis(db: Session) -> dict[str, Any]:
    """Every KPI of the dashboard, as numbers."""
    now = datetime.now(UTC)
    callback = _outcomes(db, ("callback_call", "onsite_visit"))
    cb_done = sum(v for k, v in callback.items() if k != "open")
    on_time = late = open_late = 0
    for status, due, done in db.execute(select(Task.status, Task.due_at, Task.completed_at)):
        if status == "completed" and done is not None:
            if _aware(done) <= _aware(due):
                on_time += 1
            else:
                late += 1
        elif status in ("open", "claimed") and _aware(due) < now:
            open_late += 1
    escalated = db.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "task.escalated")
    )
    orders: Counter[str] = Counter()
    for action, count in db.execute(
        select(OutboxMessage.action, func.count()).group_by(OutboxMessage.action)
    ):
        orders[str(action)] = int(count)
    recovered = payments = 0.0
    for (detail,) in db.execute(
        select(AuditEntry.detail).where(AuditEntry.action == "workflow.payment")
    ):
        payments += 1
        recovered += float((detail or {}).get("amount", 0) or 0)
    fixed = not_fixed = 0
    for (result,) in db.execute(
        select(Task.result).where(Task.kind == "reinspection", Task.status == "completed")
    ):
        for r in (result or {}).get("results", []):
            fixed, not_fixed = (fixed + 1, not_fixed) if r.get("fixed") else (fixed, not_fixed + 1)
    segments: dict[str, Counter[str]] = {k: Counter() for k in ("category", "abc_class", "tier")}
    for category, abc, tier, tags in db.execute(
        select(Assignment.category, Assignment.abc_class, Assignment.points_tier, Assignment.tags)
    ):
        segments["category"][category] += 1
        segments["abc_class"][abc] += 1
        segments["tier"][tier] += 1
        segments.setdefault("tags", Counter()).update(tags or [])
    return {
        "callback": callback,
        "callback_rate": charts.ratio(cb_done, cb_done + callback["open"]),
        "sla": {
            "on time": on_time,
            "late": late,
            "overdue": open_late,
            "escalated": int(escalated or 0),
        },
        "sla_rate": charts.ratio(on_time, on_time + late),
        "arrears": {"payments": payments, "amount": recovered},
        "orders": {k: orders.get(k, 0) for k in ("disconnect", "reconnect")},
        "disconnection_tasks": _outcomes(db, ("disconnection", "reconnection")),
        "hazards": {"fixed": fixed, "not fixed": not_fixed},
        "closure": _outcomes(db, ("closure_inspection",)),
        "segments": segments,
    }


def _items(counter: dict[str, Any] | Counter[str], lang: str) -> list[tuple[str, float]]:
    return [(i18n.label(lang, str(k)), float(v)) for k, v in sorted(counter.items())]


@router.get("/kpi")
def dashboard(request: Request) -> Response:
    """Tables and SVG bar charts of every KPI."""
    sess, _ = user(request, *VIEWERS)
    period = request.query_params.get("period", "month")
    segment = request.query_params.get("segment", "all")
    if period not in kpi_service.PERIODS or segment not in kpi_service.SEGMENTS:
        period, segment = "month", "all"
    with state(request).sessions() as db:
        k = kpis(db)
        # trends per period (services/kpis.py, the same rows as GET /v1/kpis)
        trends = kpi_service.compute(db, kpi_service.Query(period, segment))
    chart = {
        "callback": charts.bars("call-back outcomes", _items(k["callback"], sess.lang)),
        "sla": charts.bars("SLA", _items(k["sla"], sess.lang)),
        "orders": charts.bars(
            "orders", _items(k["orders"] | dict(k["disconnection_tasks"]), sess.lang)
        ),
        "hazards": charts.bars("hazards", _items(k["hazards"], sess.lang)),
        "closure": charts.bars("closure inspections", _items(k["closure"], sess.lang)),
    }
    seg_charts = {
        name: charts.bars(name, _items(c, sess.lang)) for name, c in k["segments"].items()
    }
    return render(
        request, sess, "kpi.html", k=k, chart=chart, seg_charts=seg_charts, trends=trends,
        trend_columns=TREND_COLUMNS, period=period, segment=segment,
        periods=kpi_service.PERIODS, segments=kpi_service.SEGMENTS,
    )  # fmt: skip


TREND_COLUMNS = (
    "callback_completion", "sla_compliance", "arrears_recovered", "arrears_amount",
    "arrears_days", "disconnections_on_time", "reconnections_on_time", "hazards_closed",
    "closure_inspections", "visits_done", "visits_planned", "satisfaction",
)  # fmt: skip
