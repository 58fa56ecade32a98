"""The points ledger on real SQLite and PostgreSQL: earn by rule (eligible categories only),
FIFO spending and expiry, idempotent movements, points_12m from the ledger, the CRM's figure
as an opening balance, and concurrent earn / redeem / expire without a negative balance or
a double spend."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import rules
from config import ROOT
from rules.points import reference_award
from services import points
from store import db
from store.db import make_engine, session_factory
from store.models import Assignment, Customer, PointsAccount, PointsMovement

BUNDLE = rules.load_bundle(ROOT / "policies")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request: pytest.FixtureRequest, store_url: str) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        url = store_url
    else:
        base = request.getfixturevalue("postgres_url")
        name = f"points_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        admin.dispose()
        url = base.rsplit("/", 1)[0] + "/" + name
        db.upgrade(url)
    engine = make_engine(url)
    yield session_factory(engine)
    engine.dispose()


def _customer(sessions: sessionmaker[Session], cid: str, category: str = "residential") -> None:
    with sessions.begin() as s:
        s.add(Customer(customer_id=cid, category=category))
        s.flush()
        s.add(Assignment(customer_id=cid, policy_version=BUNDLE.version, category=category,
                         abc_class="C", tags=[], points_tier="standard", actions={},
                         processes={}))  # fmt: skip


def _earn(s: Session, cid: str, amount: float, key: str, now: datetime) -> points.Movement | None:
    award = reference_award(
        BUNDLE, {"type": "payment", "customer_id": cid, "amount": amount, "channel": "online"}
    )
    return points.earn(s, BUNDLE, award, key, "crm", now=now)


def _invariant(sessions: sessionmaker[Session], cid: str) -> int:
    """Balance == sum of movements == sum of what is left of the lots, and never negative."""
    with sessions() as s:
        bal = s.scalar(select(PointsAccount.balance).where(PointsAccount.customer_id == cid)) or 0
        moved = s.scalar(select(func.sum(PointsMovement.points)).where(
            PointsMovement.customer_id == cid)) or 0  # fmt: skip
        left = s.scalar(select(func.sum(PointsMovement.remaining)).where(
            PointsMovement.customer_id == cid)) or 0  # fmt: skip
    assert bal == moved == left and bal >= 0
    return int(bal)


def test_earn_redeem_expire_fifo(sessions: sessionmaker[Session]) -> None:
    _customer(sessions, "R1")
    with sessions.begin() as s:
        # 1000 yuan online: 1.5 points/yuan (tier topup_1000) x 2 (online) = 3000
        first = _earn(s, "R1", 1000, "pay:1", T0)
        assert first is not None and first.points == 3000
        again = _earn(s, "R1", 1000, "pay:1", T0)
        assert again is not None and again.duplicate and again.balance == 3000
        second = _earn(s, "R1", 250, "pay:2", T0 + timedelta(days=400))  # 250 x 1.0 x 2 = 500
        assert second is not None and second.points == 500
    with sessions.begin() as s:
        spent = points.redeem(s, BUNDLE, "R1", "red:1", "agent.zhang", bill_credit_yuan=25,
                              now=T0 + timedelta(days=401))  # fmt: skip
        assert spent.points == -2500 and spent.balance == 1000
        # FIFO: the whole 2500 came out of the oldest lot
        assert spent.detail is not None and [lot["points"] for lot in spent.detail["lots"]] == [
            2500
        ]
    with sessions.begin() as s:
        with pytest.raises(points.PointsError) as err:
            points.redeem(s, BUNDLE, "R1", "red:2", "agent.zhang", service="priority_repair",
                          now=T0 + timedelta(days=402))  # fmt: skip
        assert err.value.code == "insufficient"
    # after 24 months the first lot's remaining 500 expires; the second lot stays
    with sessions.begin() as s:
        gone = points.expire(s, "R1", now=T0 + timedelta(days=740))
        assert [m.points for m in gone] == [-500]
        assert points.expire(s, "R1", now=T0 + timedelta(days=740)) == []  # nothing twice
    assert _invariant(sessions, "R1") == 500
    with sessions() as s:
        # points_12m counts points EARNED in the 12 months before the last movement
        assert s.get(Customer, "R1").points_12m == 500  # type: ignore[union-attr]


def test_expired_lots_are_not_spent(sessions: sessionmaker[Session]) -> None:
    _customer(sessions, "E1")
    with sessions.begin() as s:
        _earn(s, "E1", 250, "pay:E1", T0)  # 500 points, expire after 24 months
    with sessions.begin() as s:
        ok = points.redeem(s, BUNDLE, "E1", "red:E1a", "agent", bill_credit_yuan=1,
                           now=T0 + timedelta(days=30))  # fmt: skip
        assert ok.balance == 400
    with sessions.begin() as s:
        # 800 days on, the lot's 400 left have expired: the redemption finds nothing to spend
        with pytest.raises(points.PointsError) as err:
            points.redeem(s, BUNDLE, "E1", "red:E1b", "agent", bill_credit_yuan=1,
                          now=T0 + timedelta(days=800))  # fmt: skip
        assert err.value.message == "needs 100 points, balance is 0"
    assert _invariant(sessions, "E1") == 0  # the expiry stays booked


def test_only_eligible_categories_earn(sessions: sessionmaker[Session]) -> None:
    _customer(sessions, "B1", category="large")
    with sessions.begin() as s:
        assert _earn(s, "B1", 1000, "pay:B1", T0) is None
    with sessions() as s:
        assert points.balance(s, "B1") == 0


def test_opening_balance_once_and_free_extended_services(sessions: sessionmaker[Session]) -> None:
    _customer(sessions, "G1")
    with sessions.begin() as s:
        points.open_balance(s, BUNDLE, "G1", 6000, "crm", now=T0)
        again = points.open_balance(s, BUNDLE, "G1", 9999, "crm", now=T0)
        assert again is not None and again.duplicate and again.points == 6000
        row = s.get(Assignment, "G1")
        assert row is not None
        row.actions = {"free_extended_services": True}
    with sessions.begin() as s:
        free = points.redeem(s, BUNDLE, "G1", "svc:1", "agent", service="energy_audit", now=T0)
        paid = points.redeem(s, BUNDLE, "G1", "svc:2", "agent", service="priority_repair", now=T0)
    assert free.points == 0 and free.detail and free.detail["free_extended_service"] is True
    assert paid.points == -5000
    assert _invariant(sessions, "G1") == 1000


def test_concurrent_earn_redeem_expire(sessions: sessionmaker[Session]) -> None:
    """Eight threads redeem 100 each from 500 points while others earn and expire: exactly
    the balance is spent, no lot twice, never below zero."""
    _customer(sessions, "C1")
    with sessions.begin() as s:
        _earn(s, "C1", 250, "seed", T0)  # 500 points, expires T0 + 24 months
    now = T0 + timedelta(days=30)
    ok: list[str] = []
    refused: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(12)

    def redeem(i: int) -> None:
        start.wait()
        try:
            with sessions.begin() as s:
                points.redeem(s, BUNDLE, "C1", f"r{i}", "agent", bill_credit_yuan=1, now=now)
            ok.append(f"r{i}")
        except points.PointsError:
            refused.append(f"r{i}")
        except BaseException as err:  # surfaced below
            errors.append(err)

    def earn_or_expire(i: int) -> None:
        start.wait()
        try:
            with sessions.begin() as s:
                if i % 2:
                    _earn(s, "C1", 10, "dup-earn", now)  # the same key from two threads: once
                else:
                    points.expire(s, "C1", now=now)  # nothing is due yet
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=redeem, args=(i,)) for i in range(8)]
    threads += [threading.Thread(target=earn_or_expire, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    # 500 seed + 10 (10 yuan x 0.5 x 2, booked once) = 510: five redemptions of 100 fit
    assert len(ok) == 5 and len(refused) == 3
    assert _invariant(sessions, "C1") == 10
    with sessions() as s:
        q = select(PointsMovement).where(PointsMovement.customer_id == "C1")
        spent = s.scalars(q.where(PointsMovement.kind == "redeem")).all()
        assert sum(-m.points for m in spent) == 500
