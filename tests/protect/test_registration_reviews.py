"""Registrations and reviews through the service the API calls (services/registration_reviews):
the review workflow's start (and a decision's `reviewed` signal) is an outbox row committed in
the registration's own transaction, so the API answers without calling Temporal; the relay
applies each row once, on SQLite and PostgreSQL, against the real dev server.

No worker polls the relay's task queue: the started review waits in Temporal with its signal
in its history, which is what the test counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

import rules
from activities import policy_store
from config import Settings
from services import customers, outbox
from services import registration_reviews as reviews
from services.relay import Relay, RelayConfig
from store import db
from store.models import Registration, Transition

_ENGINES: dict[str, rules.Engine] = {}
END = date(2027, 1, 31)


def engines(bundle: rules.Bundle) -> rules.Engine:
    if bundle.version not in _ENGINES:
        _ENGINES[bundle.version] = rules.Engine(bundle)
    return _ENGINES[bundle.version]


@pytest.fixture
def sessions(any_store: str, settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(any_store)
    made = db.session_factory(engine)
    with made.begin() as s:
        policy_store.activate_directory(s, settings.policies_dir, "test")
    with made() as s:
        customers.upsert(s, engines, customers.validate({"customer_id": "RV1"}), "crm", "r")
    try:
        yield made
    finally:
        engine.dispose()


def register(sessions: sessionmaker[Session], reg: str, end: date | None = END) -> Any:
    return reviews.register(sessions, "RV1", reg, "life_support", "CERT-1", "Dr. Sun",
                            date(2026, 1, 1), end, "crm")  # fmt: skip


def transitions(sessions: sessionmaker[Session], wid: str) -> list[Transition]:
    with sessions() as s:
        return list(
            s.scalars(
                select(Transition).where(Transition.workflow_id == wid).order_by(Transition.id)
            )
        )


def test_the_review_start_is_queued_with_the_registration(sessions: Any) -> None:
    done = register(sessions, "REG-A")
    wid = "registration:REG-A"
    assert done.review_workflow == wid
    assert [(t["op"], t["kind"], t["status"]) for t in done.transitions] == [
        ("start", "registration_review", "pending")
    ]
    [row] = transitions(sessions, wid)
    assert row.payload == {"registration_id": "REG-A", "customer_id": "RV1",
                           "kind": "life_support", "valid_to": "2027-01-31",
                           "review_ahead_seconds": 30 * 86400.0}  # fmt: skip
    assert row.customer_id == "RV1" and row.status == "pending"
    # sent again: the same registration, its review queued once
    again = register(sessions, "REG-A")
    assert again.transitions == [] and len(transitions(sessions, wid)) == 1
    # no end date: nothing to review
    open_ended = register(sessions, "REG-B", None)
    assert (open_ended.review_workflow, open_ended.transitions) == (None, [])
    assert transitions(sessions, "registration:REG-B") == []


def test_registration_and_review_start_commit_together(
    sessions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the outbox insert fails after the registration was written in the same transaction:
    # neither is stored (no registration whose review would never start)
    def broken(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        raise RuntimeError("outbox insert failed")

    monkeypatch.setattr(outbox, "add", broken)
    with pytest.raises(RuntimeError):
        register(sessions, "REG-C")
    with sessions() as s:
        assert s.get(Registration, "REG-C") is None
    assert transitions(sessions, "registration:REG-C") == []


def test_a_decision_queues_the_reviewed_signal(sessions: Any) -> None:
    register(sessions, "REG-D")
    decided = reviews.review(sessions, "REG-D", "renewed", date(2028, 1, 31), "supervisor")
    assert decided.registration.valid_to == date(2028, 1, 31)
    assert [(t["op"], t["signal"]) for t in decided.transitions] == [("signal", "reviewed")]
    signal = transitions(sessions, "registration:REG-D")[-1]
    assert signal.payload == {"outcome": "renewed", "valid_to": "2028-01-31"}


@pytest.mark.e2e
async def test_the_relay_starts_the_review_and_hands_it_the_decision_once(
    sessions: Any, dev_client: Client
) -> None:
    reg = f"REG-{uuid.uuid4().hex[:8]}"
    wid = f"registration:{reg}"
    register(sessions, reg)
    reviews.review(sessions, reg, "ended", None, "supervisor")
    relay = Relay(sessions, dev_client, f"reviews-{reg}", RelayConfig(poll_seconds=0.05))
    await relay.run(until_idle=True)
    assert [(t.op, t.status) for t in transitions(sessions, wid)] == [
        ("start", "done"),
        ("signal", "done"),
    ]
    # a relay killed after its calls, before recording them, applies the rows again:
    # Temporal keeps the running review and drops the repeated signal
    with sessions.begin() as s:
        s.execute(update(Transition).where(Transition.workflow_id == wid)
                  .values(status="pending", applied_at=None))  # fmt: skip
    await relay.run(until_idle=True)
    assert {t.status for t in transitions(sessions, wid)} == {"done"}
    kinds = [e.event_type async for e in dev_client.get_workflow_handle(wid).fetch_history_events()]
    assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) == 1
    assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) == 1
