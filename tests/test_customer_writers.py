"""Single-customer writers (store/db.py `customer_writer`, used by the upsert): on PostgreSQL
upserts of different customers overlap, upserts of one customer and whole-store writers
(a batch) still run one after the other, and under a concurrent mix of both on either store
nothing fails or deadlocks and the audit chain verifies with every entry in it."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

import rules
from activities import policy_store
from config import Settings
from services import customers
from store import audit, db
from store.models import AuditEntry

_ENGINES: dict[str, rules.Engine] = {}


def engines(bundle: rules.Bundle) -> rules.Engine:
    if bundle.version not in _ENGINES:
        _ENGINES[bundle.version] = rules.Engine(bundle)
    return _ENGINES[bundle.version]


def _factory(url: str, settings: Settings, lock_timeout_ms: int = 5000) -> sessionmaker[Session]:
    sessions = db.session_factory(db.make_engine(url, lock_timeout_ms=lock_timeout_ms))
    with sessions.begin() as s:
        if policy_store.active_row(s) is None:
            policy_store.activate_directory(s, settings.policies_dir, "test")
    return sessions


@pytest.fixture
def pg(pg_store_url: str, settings: Settings) -> Iterator[sessionmaker[Session]]:
    sessions = _factory(pg_store_url, settings)
    yield sessions
    sessions.kw["bind"].dispose()


def rec(cid: str, revenue: float = 800.0) -> dict[str, Any]:
    return {"customer_id": cid, "tariff": "residential", "annual_revenue": revenue,
            "points_12m": 100}  # fmt: skip


def put(sessions: sessionmaker[Session], cid: str, revenue: float = 800.0) -> None:
    with sessions() as s:
        customers.upsert(s, engines, customers.validate(rec(cid, revenue)), "crm", None)


class Held:
    """An upsert of `cid` in a thread, held just before its commit (its rows written, its
    customer's lock and the shared writer lock taken, the chain's lock not yet)."""

    def __init__(self, sessions: sessionmaker[Session], cid: str) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.errors: list[BaseException] = []

        def run() -> None:
            try:
                with sessions() as s:
                    event.listen(s, "before_commit", self._hold)
                    customers.upsert(s, engines, customers.validate(rec(cid)), "crm", None)
            except BaseException as err:  # reported by join()
                self.errors.append(err)

        self.thread = threading.Thread(target=run)
        self.thread.start()
        assert self.entered.wait(30), "the held upsert did not reach its commit"

    def _hold(self, _session: Session) -> None:
        self.entered.set()
        assert self.release.wait(30)

    def join(self) -> None:
        self.release.set()
        self.thread.join(30)
        assert not self.errors, self.errors


def waiter(fn: Callable[[], None]) -> tuple[threading.Thread, list[Any]]:
    """`fn` in a thread; the list gets "done" or the error."""
    out: list[Any] = []

    def run() -> None:
        try:
            fn()
            out.append("done")
        except BaseException as err:
            out.append(err)

    t = threading.Thread(target=run)
    t.start()
    return t, out


def test_upserts_of_different_customers_overlap_on_postgres(
    pg: sessionmaker[Session], pg_store_url: str, settings: Settings
) -> None:
    held = Held(pg, "X1")
    # a second engine whose lock waits fail fast: waiting behind X1 at all would be an error
    impatient = _factory(pg_store_url, settings, lock_timeout_ms=1000)
    try:
        t0 = time.monotonic()
        put(impatient, "Y1")
        put(impatient, "Y2")
        assert time.monotonic() - t0 < 10
        with impatient() as s:
            assert s.scalar(select(func.count()).where(AuditEntry.customer_id == "X1")) == 0
    finally:
        held.join()
        impatient.kw["bind"].dispose()
    with pg() as s:
        order = list(s.scalars(select(AuditEntry.customer_id).where(
            AuditEntry.action == "customer.created").order_by(AuditEntry.seq)))  # fmt: skip
        assert order == ["Y1", "Y2", "X1"]  # X1 joined the chain at its commit
        assert audit.verify(s).ok


@pytest.mark.parametrize("kind", ["same customer", "batch"])
def test_same_customer_and_batches_wait_for_the_upsert(
    pg: sessionmaker[Session], kind: str
) -> None:
    held = Held(pg, "X1")

    def other() -> None:
        if kind == "same customer":
            put(pg, "X1", revenue=1.0)
        else:
            with pg() as s:
                customers.batch(s, engines, [rec("X1", 1.0), rec("Z1")], "crm", None)

    thread, out = waiter(other)
    time.sleep(1.0)
    assert out == [], "ran while the first upsert of X1 held its transaction"
    held.join()
    thread.join(30)
    assert out == ["done"]
    with pg() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action.like("customer.%"))
                            .order_by(AuditEntry.seq)).all()  # fmt: skip
        assert entries[0].action == "customer.created" and entries[0].customer_id == "X1"
        assert audit.verify(s).ok


def test_concurrent_upserts_and_batches_chain_verifies(any_store: str, settings: Settings) -> None:
    sessions = _factory(any_store, settings)
    ids = [f"K{i}" for i in range(4)]
    errors: list[BaseException] = []
    writes = [0]

    def client(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            for _ in range(12):
                if rnd.random() < 0.2:
                    batch = [rec(c, rnd.choice([1.0, 800.0])) for c in rnd.sample(ids, 2)]
                    with sessions() as s:
                        customers.batch(s, engines, batch, "crm", None)
                else:
                    put(sessions, rnd.choice(ids), rnd.choice([1.0, 800.0]))
                writes[0] += 1
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert not errors, errors
        with sessions() as s:
            n = s.scalar(select(func.count()).where(AuditEntry.action.like("customer.%")))
            assert n == writes[0] == 72
            assert audit.verify(s).ok
    finally:
        sessions.kw["bind"].dispose()


def test_the_store_hashes_the_same_text_as_verify(
    pg: sessionmaker[Session], store_url: str, settings: Settings
) -> None:
    """PostgreSQL completes and hashes the entry's text itself (store/audit.py); the cut
    around the previous hash gives exactly the text `verify` hashes, for any content."""
    name = {"name": '张三 "q" \\ \u2028'}
    fields = {"at": "2026-01-01T00:00:00+00:00", "actor": "crm", "action": "a",
              "target": "t", "customer_id": None, "request_id": "r", "policy_version": "v",
              "detail": {**name, "n": [1.5, None, {"z": 1, "a": 2}]}}  # fmt: skip
    head, tail = audit._halves(fields)
    assert head + "f" * 64 + tail == audit.digest_text({"prev": "f" * 64, **fields})
    for sessions in (pg, _factory(store_url, settings)):
        with sessions() as s:
            record = customers.validate({**rec("N1"), **name})
            customers.upsert(s, engines, record, "crm", None)
        with sessions() as s:
            assert audit.verify(s).ok
            assert s.scalar(select(func.count()).where(AuditEntry.customer_id == "N1")) == 1
