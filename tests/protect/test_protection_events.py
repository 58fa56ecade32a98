"""Protection events from the CRM (no Temporal): each writes its protection row with the
event record and queues `protection_changed` for the customer's ladder (and a registration's
review) as outbox rows; bad data and foreign holds are refused with the field path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import rules
from activities import policy_store
from config import Settings
from services import customers, event_types, events
from services.errors import Invalid
from store import db
from store.models import Hold, Registration, Transition

_ENGINES: dict[str, rules.Engine] = {}


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
    for cid in ("PE1", "PE2"):
        with made() as s:
            customers.upsert(s, engines, customers.validate({"customer_id": cid}), "crm", "r")
    try:
        yield made
    finally:
        engine.dispose()


def send(sessions: sessionmaker[Session], eid: str, etype: str, cid: str, **data: Any) -> Any:
    ev = event_types.parse({"event_id": eid, "type": etype, "customer_id": cid, "data": data})
    with sessions() as s:
        return events.accept(s, engines, ev, "crm", eid)


def signals(sessions: sessionmaker[Session], wid: str) -> list[dict[str, Any]]:
    with sessions() as s:
        rows = s.scalars(select(Transition).where(Transition.workflow_id == wid))
        return [t.payload for t in rows if t.op == "signal"]


def test_registration_event_protects_and_schedules_its_review(sessions: Any) -> None:
    out = send(
        sessions,
        "e1",
        "life_support_registered",
        "PE1",
        registration_id="REG-1",
        certificate_ref="CERT-1",
        certified_by="Dr. Sun",
        valid_from="2026-01-01",
        valid_to="2027-01-31",
    )
    assert out["routed_to"] == ["registration:REG-1", "arrears:PE1"]
    with sessions() as s:
        row = s.get(Registration, "REG-1")
        assert row is not None and row.status == "active" and str(row.valid_to) == "2027-01-31"
    [change] = signals(sessions, "arrears:PE1")
    assert change == {"kind": "life_support", "active": True, "reference": "REG-1"}


def test_dispute_and_hardship_hold_until_resolved(sessions: Any) -> None:
    send(sessions, "e2", "bill_disputed", "PE1", hold_id="H-1", bill_id="B1", reference="C7")
    send(sessions, "e3", "hardship_application", "PE1", hold_id="H-2", reference="A9")
    send(sessions, "e4", "hold_resolved", "PE1", hold_id="H-1", resolution="bill corrected")
    with sessions() as s:
        kinds = {h.hold_id: (h.kind, h.status) for h in s.scalars(select(Hold))}
    assert kinds == {"H-1": ("dispute", "resolved"), "H-2": ("hardship_application", "open")}
    assert [c["active"] for c in signals(sessions, "arrears:PE1")] == [True, True, False]


def test_bad_protection_events_name_the_field(sessions: Any) -> None:
    with pytest.raises(Invalid) as err:
        send(
            sessions,
            "e5",
            "life_support_registered",
            "PE1",
            registration_id="REG-2",
            certificate_ref="C",
            certified_by="Dr",
            valid_from="2026-05-01",
            valid_to="2026-01-01",
        )
    assert err.value.issues[0].path == "data.valid_to"
    with pytest.raises(Invalid) as err:
        send(sessions, "e6", "bill_disputed", "PE1", hold_id="H 3")
    assert err.value.issues[0].path == "data.hold_id"
    send(sessions, "e7", "bill_disputed", "PE2", hold_id="H-9")
    with pytest.raises(Invalid) as err:  # another customer's hold
        send(sessions, "e8", "hold_resolved", "PE1", hold_id="H-9", resolution="x")
    assert err.value.issues[0].path == "data.hold_id"
    with sessions() as s:
        hold = s.get(Hold, "H-9")
        assert hold is not None and hold.status == "open"  # nothing half-way
