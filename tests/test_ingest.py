"""Set-based ingest (services/ingest.py) on SQLite and PostgreSQL: the same assignments as
the one-at-a-time path, classes against the last run's cut points, and a statement count
per batch that does not grow with the store."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

import rules
from activities import policy_store
from activities.segmentation import segment_all
from config import ROOT
from rules import ownership
from services import abc_cuts, ingest
from store import db
from store.models import Assignment, Customer


def records(n: int, start: int = 0, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed + start)
    return [
        rules.validate_record({
            "customer_id": f"I{i:07d}", "tariff": rnd.choice(["residential", "commercial"]),
            "annual_revenue": float(rnd.choice([None, 10, 50, 500, 5000]) or 0) or None,
            "important_registered": rnd.random() < 0.03,
            "capacity_kva": float(rnd.choice([4, 100, 400])),
            "online_interactions_12m": rnd.randint(0, 9),
            "points_12m": rnd.choice([0, 1500, 6000]),
        })
        for i in range(start, start + n)
    ]  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sessions(request: pytest.FixtureRequest, store_url: str) -> Iterator[sessionmaker[Session]]:
    url = request.getfixturevalue("pg_store_url") if request.param == "postgres" else store_url
    engine = db.make_engine(url)
    factory = db.session_factory(engine)
    with factory.begin() as s:
        policy_store.activate_directory(s, ROOT / "policies", "test")
    yield factory
    engine.dispose()


def _statements(sessions: sessionmaker[Session], batch: list[dict[str, Any]]) -> int:
    engine = sessions.kw["bind"]
    seen: list[str] = []

    def count(*_: Any) -> None:
        seen.append("x")

    event.listen(engine, "before_cursor_execute", count)
    try:
        with sessions.begin() as s:
            ingest.ingest(s, policy_store.active_bundle(s), batch)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_ingest_matches_the_population_path(sessions: sessionmaker[Session]) -> None:
    first = records(700)
    with sessions.begin() as s:
        bundle = policy_store.active_bundle(s)
        done = ingest.ingest(s, bundle, first)
    # no cut points yet: every class is provisional (the rest class); everyone is new
    assert (done.created, done.updated, len(done.changes)) == (700, 0, 700)
    assert {a.abc_class for a in done.assignments.values()} == {"C"}
    assert all(c.before is None for c in done.changes)
    with sessions.begin() as s:
        segment_all(s, bundle, "run-1", "test")  # a population run: cut points + classes
        cuts = abc_cuts.of_run(s, bundle, "run-1")
    # updates of half the customers and 300 new ones, classified against the run's points
    later = records(350, start=350, seed=99) + records(300, start=700)
    with sessions.begin() as s:
        done = ingest.ingest(s, bundle, later)
        assert (done.created, done.updated) == (300, 350)
        stored = {a.customer_id: a for a in s.scalars(select(Assignment))}
        assert s.scalar(select(func.count()).select_from(Customer)) == 1000
    # segflow-owned fields (points, hazards, ...) of stored customers keep their stored value
    firsts = {r["customer_id"]: r for r in first}
    merged = [ownership.keep_owned(firsts.get(r["customer_id"]), r)[0] for r in later]
    assert any(m["points_12m"] != r["points_12m"] for m, r in zip(merged, later, strict=True))
    expected = rules.segment_population(bundle, merged, validated=True, cuts=cuts)
    for exp in expected:
        got = stored[exp.customer_id]
        fields = (got.abc_class, got.category, list(got.tags), got.points_tier, got.processes)
        assert fields == (exp.abc_class, exp.category, list(exp.tags), exp.points_tier,
                          exp.processes)  # fmt: skip
    # only assignments that changed are reported, with the processes before and after
    unchanged = {e.customer_id for e in expected} - {c.customer_id for c in done.changes}
    assert unchanged, "re-sent records with the same values change nothing"
    assert all(c.before is not None for c in done.changes if c.customer_id < "I0000700")


def test_batch_statements_do_not_grow_with_the_store(sessions: sessionmaker[Session]) -> None:
    small = _statements(sessions, records(1000, start=0))
    for k in range(1, 6):  # the store grows to 6,000 customers
        _statements(sessions, records(1000, start=k * 1000))
    large = _statements(sessions, records(1000, start=10_000))
    assert large == small, (small, large)
