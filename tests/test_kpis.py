"""KPIs by period and segment against a hand-computed fixture (real SQLite store)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from services import kpis
from store import audit
from store.db import make_engine, session_factory
from store.models import Assignment, Customer, Task


def _t(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _task(
    s: Session, n: int, kind: str, cid: str, created: datetime, *, due: datetime | None = None,
    status: str = "open", done: datetime | None = None, outcome: str | None = None,
) -> None:  # fmt: skip
    s.add(Task(task_id=f"t{n}", workflow_id=f"wf{n}", kind=kind, customer_id=cid, queue="agent",
               title=kind, context={}, due_at=due or created, status=status, created_at=created,
               completed_at=done, result={"outcome": outcome} if outcome else None))  # fmt: skip


class _Clock:
    """Stands in for the audit module's clock: the log is append-only, so a fixture entry
    gets its time when it is written."""

    at = datetime(2026, 1, 1, tzinfo=UTC)

    @classmethod
    def now(cls, tz: Any = None) -> datetime:
        return cls.at


def _step(s: Session, at: datetime, cid: str, action: str, target: str, **detail: Any) -> None:
    _Clock.at = at
    audit.append(s, actor="workflow", action=action, target=target, customer_id=cid,
                 detail=detail)  # fmt: skip


@pytest.fixture
def db(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Session:
    monkeypatch.setattr(audit, "datetime", _Clock)
    sessions = session_factory(make_engine(store_url))
    with sessions.begin() as s:
        for cid, cat, abc in (("R1", "residential", "C"), ("K1", "large", "A")):
            s.add(Customer(customer_id=cid, category=cat))
            s.flush()
            s.add(Assignment(customer_id=cid, policy_version="v", category=cat, abc_class=abc,
                             tags=["high_value"] if cid == "K1" else [], points_tier="standard",
                             actions={}, processes={}))  # fmt: skip
        c = "completed"
        _task(
            s, 1, "callback_call", "R1", _t(11, 10), status=c, done=_t(11, 12), outcome="verified"
        )
        _task(s, 2, "callback_call", "R1", _t(11, 15))
        _task(s, 3, "callback_call", "K1", _t(11, 20), status="cancelled")
        _task(s, 4, "callback_call", "K1", _t(12, 5), status=c, done=_t(12, 6), outcome="verified")
        _task(s, 5, "reconnection", "R1", _t(12, 1, 8), due=_t(12, 2, 0), status=c,
              done=_t(12, 1, 10), outcome="reconnected")  # fmt: skip
        _task(s, 6, "disconnection", "R1", _t(11, 20), due=_t(11, 24), status=c,
              done=_t(11, 25), outcome="disconnected")  # fmt: skip
        _task(s, 7, "key_account_visit", "K1", _t(11, 1), due=_t(11, 30), status=c,
              done=_t(11, 28), outcome="visited")  # fmt: skip
        _task(s, 8, "key_account_visit", "K1", _t(12, 1), due=_t(12, 30))
        _task(s, 9, "closure_inspection", "R1", _t(12, 1), status=c, done=_t(12, 3),
              outcome="no_issue")  # fmt: skip
        _task(s, 10, "outage_satisfaction_callback", "R1", _t(12, 9), status=c, done=_t(12, 10),
              outcome="satisfied")  # fmt: skip
        _task(s, 11, "outage_satisfaction_callback", "K1", _t(12, 9), status=c, done=_t(12, 11),
              outcome="dissatisfied")  # fmt: skip
        _task(s, 12, "outage_satisfaction_callback", "R1", _t(12, 9), status=c, done=_t(12, 12),
              outcome="unreachable")  # fmt: skip
        _step(s, _t(11, 5), "K1", "workflow.sla_met", "workflow:service_request:K1:a")
        _step(s, _t(11, 6), "K1", "workflow.sla_breached", "workflow:service_request:K1:b")
        _step(s, _t(12, 7), "R1", "workflow.sla_met", "workflow:service_request:R1:c")
        _step(
            s, _t(12, 8), "R1", "workflow.reinspected", "workflow:hazard:R1:i", fixed=["h1", "h2"]
        )
        _step(s, _t(11, 1), "R1", "workflow.started", "workflow:arrears:R1:B1", amount=300.0)
        _step(s, _t(11, 11), "R1", "workflow.ended", "workflow:arrears:R1:B1", outcome="settled")
        _step(s, _t(11, 12), "K1", "workflow.ended", "workflow:hazard:K1:x", outcome="closed")
    return sessions()


Q = {"start": datetime(2026, 11, 1, tzinfo=UTC), "end": datetime(2027, 1, 1, tzinfo=UTC)}


def test_by_month(db: Session) -> None:
    nov, dec = kpis.compute(db, kpis.Query("month", "all", **Q))
    assert (nov["period"], dec["period"]) == ("2026-11", "2026-12")
    assert (nov["callback_opened"], nov["callback_completed"], nov["callback_completion"]) == (
        3,
        1,
        0.5,
    )
    assert (nov["sla_met"], nov["sla_breached"], nov["sla_compliance"]) == (1, 1, 0.5)
    assert (nov["arrears_recovered"], nov["arrears_amount"], nov["arrears_days"]) == (
        1,
        300.0,
        10.0,
    )
    assert (nov["disconnections"], nov["disconnections_on_time"]) == (1, 0)
    assert (nov["visits_planned"], nov["visits_done"]) == (1, 1)
    assert nov["hazards_closed"] == 0 and nov["satisfaction"] is None
    assert (dec["callback_opened"], dec["callback_completion"]) == (1, 1.0)
    assert (dec["reconnections"], dec["reconnections_on_time"]) == (1, 1)
    assert dec["closure_inspections"] == 1 and dec["hazards_closed"] == 2
    assert (dec["visits_planned"], dec["visits_done"]) == (1, 0)
    assert (dec["satisfaction_answers"], dec["satisfied"], dec["satisfaction"]) == (2, 1, 0.5)
    assert dec["sla_compliance"] == 1.0 and dec["arrears_recovered"] == 0


def test_by_segment(db: Session) -> None:
    rows = {
        (r["period"], r["segment"]): r
        for r in kpis.compute(db, kpis.Query("month", "category", **Q))
    }
    res, large = rows[("2026-11", "residential")], rows[("2026-11", "large")]
    assert (res["callback_opened"], res["callback_completion"]) == (2, 0.5)
    assert res["disconnections"] == 1 and res["arrears_recovered"] == 1
    assert (large["callback_opened"], large["callback_completion"]) == (1, None)  # 1 cancelled
    assert large["sla_compliance"] == 0.5 and large["visits_done"] == 1
    tags = {(r["period"], r["segment"]) for r in kpis.compute(db, kpis.Query("month", "tag", **Q))}
    assert ("2026-12", "high_value") in tags and ("2026-12", "(none)") in tags


def test_by_week_and_range(db: Session) -> None:
    weeks = kpis.compute(db, kpis.Query("week", "all", **Q))
    assert weeks[0]["period"] == "2026-W45"  # the first fact: Thursday 5 Nov 2026 (ISO week 45)
    dec_only = kpis.compute(db, kpis.Query("month", "all", start=_t(12, 1, 0), end=Q["end"]))
    assert [r["period"] for r in dec_only] == ["2026-12"]


@pytest.mark.parametrize(
    ("query", "path"),
    [(kpis.Query("year"), "period"), (kpis.Query(segment="zip"), "segment"),
     (kpis.Query(start=Q["end"], end=Q["start"]), "from")],
)  # fmt: skip
def test_bad_queries(query: kpis.Query, path: str) -> None:
    with pytest.raises(kpis.KpiError) as err:
        query.check()
    assert err.value.path == path
