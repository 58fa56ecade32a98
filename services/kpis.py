"""KPIs of the strategies (paper 004) by period and by segment.

Computed from what the store records: task rows (call-backs, visits, disconnection and
reconnection orders, closure inspections, satisfaction call-backs) and the audit log's
workflow steps (service-request SLA verdicts, re-inspections, arrears starts and ends).
A fact belongs to the period of its time stamp (UTC): a task to the period it was opened
(`opened`) or completed (`completed`), a step to the period it was recorded. The segment is
the customer's CURRENT assignment (category, ABC class, points tier or tag; a customer with
several tags counts under each). Definitions: `DEFINITIONS` (and docs/kpis.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from store.models import Assignment, AuditEntry, Task

PERIODS = ("month", "week", "day")
SEGMENTS = ("all", "category", "abc_class", "points_tier", "tag")
DEFINITIONS: dict[str, str] = {
    "callback_opened": "call-back tasks opened in the period",
    "callback_completed": "of those, completed (any outcome)",
    "callback_completion": "callback_completed / (callback_opened - cancelled ones)",
    "sla_met": "service requests answered within the customer's own SLA (answered in the period)",
    "sla_breached": "service requests answered after it",
    "sla_compliance": "sla_met / (sla_met + sla_breached)",
    "arrears_recovered": "arrears processes ended settled or reconnected in the period",
    "arrears_amount": "their overdue amounts (yuan, as the bill_overdue event said)",
    "arrears_days": "mean days from the overdue bill to its end",
    "disconnections": "disconnection orders completed in the period",
    "disconnections_on_time": "of those, completed by their due time",
    "reconnections": "reconnection orders completed in the period",
    "reconnections_on_time": "of those, within the reconnection deadline (due time)",
    "hazards_closed": "hazards re-inspected as fixed in the period (each hazard counts)",
    "closure_inspections": "closure theft inspections completed in the period",
    "visits_planned": "key-account visit work orders due in the period",
    "visits_done": "of those, completed with outcome visited",
    "satisfaction_answers": "outage satisfaction call-backs answered in the period",
    "satisfied": "of those, outcome satisfied",
    "satisfaction": "satisfied / satisfaction_answers",
}
COUNTS = [k for k in DEFINITIONS if k not in ("callback_completion", "sla_compliance",
                                              "arrears_days", "satisfaction")]  # fmt: skip


class KpiError(ValueError):
    """A bad query parameter: `path` and a message."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path, self.message = path, message


@dataclass(frozen=True)
class Query:
    """Which KPIs: period granularity, segment dimension, time range [start, end)."""

    period: str = "month"
    segment: str = "all"
    start: datetime | None = None
    end: datetime | None = None

    def check(self) -> Query:
        if self.period not in PERIODS:
            raise KpiError("period", f"one of {', '.join(PERIODS)}")
        if self.segment not in SEGMENTS:
            raise KpiError("segment", f"one of {', '.join(SEGMENTS)}")
        end = _aware(self.end) if self.end else datetime.now(UTC)
        start = _aware(self.start) if self.start else end - timedelta(days=366)
        if start >= end:
            raise KpiError("from", "must be before 'to'")
        return Query(self.period, self.segment, start, end)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def period_of(at: datetime, period: str) -> str:
    """The period label of a time: 2026-11, 2026-W47 or 2026-11-23 (UTC)."""
    at = _aware(at).astimezone(UTC)
    if period == "month":
        return f"{at.year:04d}-{at.month:02d}"
    if period == "week":
        year, week, _ = at.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return at.date().isoformat()


def _segments(db: Session, ids: Iterable[str], dim: str) -> dict[str, list[str]]:
    wanted = sorted(set(ids))
    if dim == "all":
        return {cid: ["all"] for cid in wanted}
    out: dict[str, list[str]] = {}
    for start in range(0, len(wanted), 500):
        rows = db.execute(
            select(Assignment.customer_id, Assignment.category, Assignment.abc_class,
                   Assignment.points_tier, Assignment.tags)
            .where(Assignment.customer_id.in_(wanted[start : start + 500]))
        )  # fmt: skip
        for cid, category, abc, tier, tags in rows:
            by = {"category": [category], "abc_class": [abc], "points_tier": [tier]}
            out[cid] = by.get(dim) or list(tags or []) or ["(none)"]
    return out


def _in(at: datetime | None, q: Query) -> bool:
    return at is not None and q.start <= _aware(at) < q.end  # type: ignore[operator]


def compute(db: Session, query: Query) -> list[dict[str, Any]]:
    """One row per (period, segment) with every KPI; sorted by period then segment."""
    q = query.check()
    facts: list[tuple[datetime, str, str, float]] = []  # (at, customer, kpi, value)

    def add(at: datetime | None, cid: str, kpi: str, value: float = 1.0) -> None:
        if _in(at, q):
            facts.append((_aware(at), cid, kpi, value))  # type: ignore[arg-type]

    tasks = db.scalars(select(Task).where(or_(
        Task.created_at.between(q.start, q.end), Task.completed_at.between(q.start, q.end),
        Task.due_at.between(q.start, q.end))))  # fmt: skip
    for t in tasks:
        done = t.status == "completed" and t.completed_at is not None
        outcome = (t.result or {}).get("outcome") if done else None
        on_time = done and _aware(t.completed_at) <= _aware(t.due_at)  # type: ignore[arg-type]
        if t.kind == "callback_call":
            add(t.created_at, t.customer_id, "callback_opened")
            if done:
                add(t.created_at, t.customer_id, "callback_completed")
            if t.status == "cancelled":
                add(t.created_at, t.customer_id, "_callback_cancelled")
        elif t.kind in ("disconnection", "reconnection") and done:
            add(t.completed_at, t.customer_id, f"{t.kind}s")
            if on_time:
                add(t.completed_at, t.customer_id, f"{t.kind}s_on_time")
        elif t.kind == "closure_inspection" and done:
            add(t.completed_at, t.customer_id, "closure_inspections")
        elif t.kind == "key_account_visit":
            add(t.due_at, t.customer_id, "visits_planned")
            if outcome == "visited":
                add(t.due_at, t.customer_id, "visits_done")
        elif t.kind == "outage_satisfaction_callback" and outcome not in (None, "unreachable"):
            add(t.completed_at, t.customer_id, "satisfaction_answers")
            if outcome == "satisfied":
                add(t.completed_at, t.customer_id, "satisfied")
    steps = db.execute(
        select(AuditEntry.at, AuditEntry.customer_id, AuditEntry.action, AuditEntry.target,
               AuditEntry.detail)
        .where(AuditEntry.action.in_(["workflow.sla_met", "workflow.sla_breached",
                                      "workflow.reinspected", "workflow.ended"]),
               AuditEntry.at >= q.start, AuditEntry.at < q.end)
    )  # fmt: skip
    for at, cid, action, target, detail in steps:
        detail = detail or {}
        if action in ("workflow.sla_met", "workflow.sla_breached"):
            add(at, cid or "", action.removeprefix("workflow."))
        elif action == "workflow.reinspected":
            add(at, cid or "", "hazards_closed", float(len(detail.get("fixed") or [])))
        elif target.startswith("workflow:arrears:") and detail.get("outcome") in (
            "settled", "reconnected"
        ):  # fmt: skip
            started = _arrears_start(db, target)
            add(at, cid or "", "arrears_recovered")
            if started is not None:
                add(at, cid or "", "arrears_amount", float(started[1]))
                add(at, cid or "", "_arrears_seconds", (_aware(at) - started[0]).total_seconds())
    return _rows(facts, _segments(db, {f[1] for f in facts}, q.segment), q.period)


def _arrears_start(db: Session, target: str) -> tuple[datetime, float] | None:
    row = db.execute(
        select(AuditEntry.at, AuditEntry.detail)
        .where(AuditEntry.target == target, AuditEntry.action == "workflow.started")
        .order_by(AuditEntry.seq)
        .limit(1)
    ).first()
    if row is None:
        return None
    return _aware(row[0]), float((row[1] or {}).get("amount", 0) or 0)


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def _rows(
    facts: list[tuple[datetime, str, str, float]], segs: dict[str, list[str]], period: str
) -> list[dict[str, Any]]:
    sums: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for at, cid, kpi, value in facts:
        for seg in segs.get(cid, ["(unknown)"]):
            sums[(period_of(at, period), seg)][kpi] += value
    rows: list[dict[str, Any]] = []
    for (label, seg), s in sorted(sums.items()):
        row: dict[str, Any] = {"period": label, "segment": seg}
        row.update({k: int(s[k]) if k != "arrears_amount" else round(s[k], 2) for k in COUNTS})
        opened = s["callback_opened"] - s["_callback_cancelled"]
        row["callback_completion"] = _ratio(s["callback_completed"], opened)
        row["sla_compliance"] = _ratio(s["sla_met"], s["sla_met"] + s["sla_breached"])
        days = _ratio(s["_arrears_seconds"] / 86400, s["arrears_recovered"])
        row["arrears_days"] = None if days is None else round(days, 2)
        row["satisfaction"] = _ratio(s["satisfied"], s["satisfaction_answers"])
        rows.append(row)
    return rows


COLUMNS = ["period", "segment", *DEFINITIONS]
