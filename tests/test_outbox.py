"""The outbox's write side on SQLite and PostgreSQL (no Temporal): an upsert commits its
transitions with the record, the customer view lists them until applied, a leave and a
re-entry that no relay has seen cancel out, a conflicting event start is refused at once,
and lock waits on PostgreSQL end at the configured lock_timeout."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

import rules
from activities import policy_store
from activities.segmentation import segment_all
from config import Settings
from services import customers, event_types, events
from services.errors import Conflict
from store import audit, db
from store.models import Transition

RESIDENTS = [{"customer_id": f"R{i:02d}", "tariff": "residential",
              "annual_revenue": float(10 + i)} for i in range(18)]  # fmt: skip
B = {"customer_id": "CB1", "tariff": "residential", "annual_revenue": 800.0}


@pytest.fixture
def sessions(any_store: str, settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(any_store, lock_timeout_ms=300)
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


def put(sessions: sessionmaker[Session], record: dict[str, Any]) -> customers.Upserted:
    with sessions() as s:
        return customers.upsert(s, engines, customers.validate(record), "crm", "req")


def rows(sessions: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with sessions() as s:
        found = s.scalars(select(Transition).order_by(Transition.id))
        return [(t.op, t.workflow_id, t.status) for t in found]


def test_upsert_queues_with_the_record_and_cancels_unclaimed_opposites(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        customers.batch(s, engines, [*RESIDENTS, {"customer_id": "TOP", "annual_revenue": 1e7}],
                        "crm", "batch")  # fmt: skip
    with sessions.begin() as s:  # a population run: the ABC cut points upserts compare with
        segment_all(s, policy_store.active_bundle(s), "run-1", "test")
    before = len(rows(sessions))
    first = put(sessions, B)
    assert first.assignment["abc_class"] == "B"
    keys = ["callback:CB1", "visit:CB1"]  # class B: quarterly call-backs and visits
    assert [(t["op"], t["workflow_id"], t["status"]) for t in first.transitions] == [
        ("start", k, "pending") for k in keys
    ]
    with sessions() as s:
        view = customers.get(s, "CB1")
    assert [t["workflow_id"] for t in view.pending_transitions] == keys
    assert put(sessions, B).transitions == []  # unchanged: nothing more to do

    # leaves class B and comes back before any relay ran: both changes cancel out
    left = put(sessions, {**B, "annual_revenue": 0.0})
    assert left.assignment["abc_class"] == "C" and left.transitions == []
    assert rows(sessions)[before:] == [("start", k, "skipped") for k in keys]
    back = put(sessions, B)
    assert [t["op"] for t in back.transitions] == ["start", "start"]

    # a claimed (in flight) start is not cancelled: the stop queues behind it
    with sessions.begin() as s:
        s.execute(text("UPDATE transitions SET lease_owner = 'r' WHERE status = 'pending'"))
    left = put(sessions, {**B, "annual_revenue": 0.0})
    assert [t["op"] for t in left.transitions] == ["stop", "stop"]
    mine = [r[0] for r in rows(sessions)[before:] if r[2] == "pending"]
    assert mine == ["start", "start", "stop", "stop"]
    with sessions() as s:
        assert len(customers.get(s, "CB1").pending_transitions) == 4
        assert audit.verify(s).ok

    # a start never cancels a waiting stop: the run may have ended on its own meanwhile
    # (its plan read while the customer was out), so the start queues behind the stop
    with sessions.begin() as s:
        s.execute(text("UPDATE transitions SET status = 'done', lease_owner = NULL "
                       "WHERE op = 'start' AND status = 'pending'"))  # fmt: skip
        s.execute(text("UPDATE transitions SET lease_owner = NULL "
                       "WHERE op = 'stop' AND status = 'pending'"))  # fmt: skip
    back = put(sessions, B)
    assert [t["op"] for t in back.transitions] == ["start", "start"]
    mine = [r[0] for r in rows(sessions)[before:] if r[2] == "pending"]
    assert mine == ["stop", "stop", "start", "start"]

    # a start that was tried (its call may have reached Temporal before it timed out) is not
    # cancelled by the stop that follows: the stop queues behind it
    with sessions.begin() as s:
        s.execute(text("UPDATE transitions SET status = 'done' WHERE op = 'stop' "
                       "AND status = 'pending'"))  # fmt: skip
        s.execute(text("UPDATE transitions SET attempts = 1 WHERE status = 'pending'"))
    left = put(sessions, {**B, "annual_revenue": 0.0})
    assert [t["op"] for t in left.transitions] == ["stop", "stop"]
    mine = [r[0] for r in rows(sessions)[before:] if r[2] == "pending"]
    assert mine == ["start", "start", "stop", "stop"]


def test_event_start_conflict_is_refused_at_accept_time(sessions: sessionmaker[Session]) -> None:
    put(sessions, {"customer_id": "EV1", "tariff": "residential"})

    def event(eid: str, request: str) -> dict[str, Any]:
        body = {"event_id": eid, "type": "closure_requested", "customer_id": "EV1",
                "data": {"request_id": request}}  # fmt: skip
        ev = event_types.parse(body)
        with sessions() as s:
            return events.accept(s, engines, ev, "crm", eid)

    first = event("e1", "R1")
    assert first["routed_to"] == ["closure:EV1"] and len(first["transitions"]) == 1
    assert event("e2", "R1")["transitions"] == []  # the same input: the same process
    with pytest.raises(Conflict):
        event("e3", "R2")  # the account's closure is already under way with another request
    assert event("e1", "R1")["duplicate"] is True


def test_postgres_lock_wait_ends_at_lock_timeout(
    sessions: sessionmaker[Session], any_store: str
) -> None:
    if not any_store.startswith("postgresql"):
        pytest.skip("lock_timeout is a PostgreSQL setting")
    put(sessions, {"customer_id": "L1"})
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with sessions.begin() as s:
            s.execute(text("UPDATE customers SET name = 'x' WHERE customer_id = 'L1'"))
            held.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)
    try:
        with pytest.raises(OperationalError, match="lock timeout"), sessions.begin() as s:
            s.execute(text("UPDATE customers SET name = 'y' WHERE customer_id = 'L1'"))
    finally:
        release.set()
        t.join()
