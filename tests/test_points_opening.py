"""The CRM's points figure as an opening lot on both write paths, on SQLite and PostgreSQL:
a customer created by a batch gets the same opening lot and balance as one created by a
single upsert, once (a re-sent batch or upsert never adds another); the batch books its
lots set-based (statements do not grow with the batch) with one audit entry, the upsert
with its own single entry; the audit chain verifies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

import rules
from activities import policy_store
from config import Settings
from services import customers, points
from store import audit, db
from store.models import AuditEntry, Customer, PointsAccount, PointsMovement


@pytest.fixture
def sessions(any_store: str, settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(any_store)
    sessions = db.session_factory(engine)
    with sessions.begin() as s:
        policy_store.activate_directory(s, settings.policies_dir, "test")
    try:
        yield sessions
    finally:
        engine.dispose()


_ENGINES: dict[str, rules.Engine] = {}


def engines(bundle: rules.Bundle) -> rules.Engine:
    if bundle.version not in _ENGINES:
        _ENGINES[bundle.version] = rules.Engine(bundle)
    return _ENGINES[bundle.version]


def rec(cid: str, pts: int) -> dict[str, Any]:
    return {"customer_id": cid, "tariff": "residential", "points_12m": pts}


def lots(s: Session, cid: str) -> list[tuple[str, int, int, str, float]]:
    rows = s.scalars(select(PointsMovement).where(PointsMovement.customer_id == cid))
    return [(m.kind, m.points, m.remaining, m.source,
             (m.expires_at - m.at).total_seconds() if m.expires_at else 0.0)
            for m in rows]  # fmt: skip


def actions(s: Session) -> list[str]:
    found = s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq))
    return [a for a in found if not a.startswith("policy.")]


def test_batch_and_upsert_open_the_same_balance_once(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        customers.upsert(s, engines, customers.validate(rec("U1", 6000)), "crm", "r1")
    batch = [rec("B1", 6000), rec("B2", 1500), rec("B3", 0), {"customer_id": "bad id"}]
    with sessions() as s:
        done = customers.batch(s, engines, batch, "crm", "r2")
    assert (done.stored, done.failed) == (3, 1)
    with sessions() as s:
        assert lots(s, "B1") == lots(s, "U1") != []
        assert lots(s, "B1")[0][:4] == ("opening", 6000, 6000, "crm")
        assert [points.balance(s, c) for c in ("U1", "B1", "B2", "B3")] == [6000, 6000, 1500, 0]
        assert [s.get(Customer, c).points_12m for c in ("U1", "B1", "B2")] == [6000, 6000, 1500]  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(PointsAccount)) == 3  # none for B3
        # one audit entry per upsert (the opening inside it), one per batch for its lots
        assert actions(s) == ["customer.created", "points.opening", "customer.batch_upserted"]
        created, opening = s.scalars(
            select(AuditEntry).where(AuditEntry.action.in_(["customer.created",
                                                            "points.opening"]))
            .order_by(AuditEntry.seq)
        ).all()  # fmt: skip
        assert created.detail["points_opening"]["points"] == 6000
        assert (opening.detail["customers"], opening.detail["points"]) == (2, 7500)
    # the same records again (updates now): no second opening, no reset
    with sessions() as s:
        customers.batch(s, engines, [rec("B1", 9999), rec("U1", 9999)], "crm", "r3")
    with sessions() as s:
        customers.upsert(s, engines, customers.validate(rec("B2", 9999)), "crm", "r4")
    with sessions() as s:
        assert [points.balance(s, c) for c in ("U1", "B1", "B2")] == [6000, 6000, 1500]
        assert s.scalar(select(func.count()).select_from(PointsMovement)) == 3
        assert actions(s).count("points.opening") == 1
        assert audit.verify(s).ok


def test_opening_statements_do_not_grow_with_the_batch(sessions: sessionmaker[Session]) -> None:
    engine = sessions.kw["bind"]

    def statements(n: int, prefix: str) -> int:
        seen: list[str] = []

        def count(*_: Any) -> None:
            seen.append("x")

        records = [rec(f"{prefix}{i:05d}", 100 + i) for i in range(n)]
        event.listen(engine, "before_cursor_execute", count)
        try:
            with sessions.begin() as s:
                opened = points.open_balances(s, policy_store.active_bundle(s), records, "crm")
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert (opened.customers, opened.points) == (n, sum(100 + i for i in range(n)))
        return len(seen)

    small, large = statements(3, "S"), statements(2000, "L")
    assert small == large <= 8  # two multi-row INSERTs and the audit append
    with sessions() as s:
        assert s.scalar(select(func.sum(PointsAccount.balance))) == sum(
            100 + i for n in (3, 2000) for i in range(n)
        )
        # a customer already opened is skipped, the others opened
        bundle = policy_store.active_bundle(s)
        again = points.open_balances(s, bundle, [rec("S00000", 5), rec("N1", 7)], "crm")
        assert (again.customers, again.points) == (1, 7)
        assert points.balance(s, "S00000") == 100
