"""Staged activation and population runs: a run under the active version leaves the
customers a stage pinned on the staged version."""

from __future__ import annotations

from sqlalchemy import select

import rules
from activities import policy_store
from activities.segmentation import segment_range
from config import ROOT
from services import abc_cuts, staging
from store import db
from store.models import Assignment, Customer


def test_population_run_keeps_pinned_customers_on_the_staged_version(store_url: str) -> None:
    db.upgrade(store_url)
    sessions = db.session_factory(db.make_engine(store_url))
    engines: dict[str, rules.Engine] = {}

    def engine_for(bundle: rules.Bundle) -> rules.Engine:
        return engines.setdefault(bundle.version, rules.Engine(bundle))

    texts = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "policies").glob("*.yaml")}
    texts["processes.yaml"] = texts["processes.yaml"].replace("  max_tries: 3", "  max_tries: 2")
    draft = rules.load_bundle_from_texts(texts)
    with sessions.begin() as s:
        active = policy_store.activate_directory(s, ROOT / "policies", "test")
        policy_store.register(s, draft, "test")
        for i in range(40):
            s.add(Customer(customer_id=f"P{i:02d}", tariff="residential", annual_revenue=100 + i))
    with sessions() as s:
        stage = staging.start(s, engine_for, draft.version, "owner", share=0.5)
    assert stage["pinned"] > 0
    with sessions.begin() as s:
        cuts = abc_cuts.current(s, active)
        customers, _, _ = segment_range(s, active, cuts, "", None, "run")
    with sessions() as s:
        versions = dict(s.execute(select(Assignment.customer_id, Assignment.policy_version)).all())
    staged = {c for c, v in versions.items() if v == draft.version}
    assert len(staged) == stage["pinned"] and customers == 40 - stage["pinned"]
    assert all(v == active.version for c, v in versions.items() if c not in staged)
