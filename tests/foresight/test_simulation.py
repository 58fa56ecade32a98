"""Timeline simulation: the real workflows on a private time-skipping engine, scenario files
as regression tests (the shipped examples run here, so CI runs them), the live store only
read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

import cli
import rules
from activities import policy_store
from config import ROOT
from services import simulation
from services.scenario import ScenarioProblem, load_file, parse
from store import db
from store.models import AuditEntry, Customer, OutboxMessage, Task

SCENARIOS = ROOT / "policies" / "scenarios"


def test_shipped_scenarios_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert len(list(SCENARIOS.glob("*.yaml"))) >= 4
    code = cli.main(["policy", "test", str(SCENARIOS)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "0 failed" in out


async def test_a_policy_change_fails_the_scenario(tmp_path: Path) -> None:
    draft = tmp_path / "draft"
    shutil.copytree(ROOT / "policies", draft)
    text = (draft / "processes.yaml").read_text(encoding="utf-8")
    old = "{step: wechat_reminder, channel: wechat, wait: P3D}"
    assert old in text
    (draft / "processes.yaml").write_text(text.replace(old, old.replace("P3D", "P5D")))
    cases = tmp_path / "cases"
    cases.mkdir()
    shutil.copy(SCENARIOS / "arrears_no_payment.yaml", cases)
    [outcome] = await simulation.run_directory(cases, rules.load_bundle(draft))
    assert not outcome.passed
    # the phone reminder comes two days later, and everything after it moves
    assert "missing: day 9: arrears.phone_reminder" in outcome.problems
    assert "unexpected: day 11: arrears.phone_reminder" in outcome.problems
    [same] = await simulation.run_directory(cases, rules.load_bundle(ROOT / "policies"))
    assert same.passed, same.problems


def test_scenario_problems_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ScenarioProblem) as err:
        parse({
            "customer": {"customer_id": "X1", "tariff": "residential", "capacity_kva": "big"},
            "events": [{"day": 2, "type": "bill_overdue", "data": {"bill_id": "B1", "amount": -5}},
                       {"day": 3, "type": "bill_paid"}],
            "answers": {"collection": {"outcome": "maybe"}},
        })  # fmt: skip
    paths = {path for path, _ in err.value.issues}
    assert paths == {"events[1].type", "answers"}  # model errors first, then the content
    with pytest.raises(ScenarioProblem) as err:
        parse({
            "customer": {"customer_id": "X1", "capacity_kva": "big"},
            "events": [{"day": 2, "type": "bill_overdue", "data": {"bill_id": "B1", "amount": -5}},
                       {"day": 4, "type": "record_update", "data": {"life_suport": True}}],
            "start": "2001-01-01T00:00:00Z",
        })  # fmt: skip
    paths = {path for path, _ in err.value.issues}
    assert paths == {
        "start",
        "customer.capacity_kva",
        "events[0].data.amount",
        "events[1].data.life_suport",
    }
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nevents: [\n", encoding="utf-8")
    with pytest.raises(ScenarioProblem) as err:
        load_file(bad)
    assert str(err.value).startswith(f"{bad}:3:")


async def test_simulating_a_stored_customer_only_reads_the_live_store(store_url: str) -> None:
    db.upgrade(store_url)
    sessions = db.session_factory(db.make_engine(store_url))
    with sessions.begin() as s:
        version = policy_store.activate_directory(s, ROOT / "policies", "test").version
        for i in range(20):  # a population to rank in: C1 has the lowest revenue, class C
            s.add(Customer(customer_id=f"P{i:02d}", tariff="residential",
                           annual_revenue=10_000 + i, contacts={"phone": "1"}))  # fmt: skip
        s.add(Customer(customer_id="C1", tariff="residential", annual_revenue=100,
                       contacts={"phone": "+86 138 0000 0009"}))  # fmt: skip

    def counts() -> tuple[int, ...]:
        with sessions() as s:
            return tuple(s.scalar(select(func.count()).select_from(m)) or 0
                         for m in (Task, AuditEntry, OutboxMessage))  # fmt: skip

    before = counts()
    sc = parse({
        "customer_id": "C1", "days": 30,
        "events": [{"day": 1, "type": "bill_overdue", "data": {"bill_id": "B7", "amount": 90.0}}],
    })  # fmt: skip
    timeline = await simulation.simulate_stored(sessions, sc, None)
    assert timeline.policy_version == version and timeline.assignment["abc_class"] == "C"
    steps = [(e.day, e.step) for e in timeline.entries]
    assert (1, "arrears.started") in steps and (1, "sms:sms_reminder") in steps
    # default answers: the first outcome of each task kind, a day after it opened
    collection = next(e for e in timeline.entries if e.step == "answer:collection")
    assert collection.detail == {"outcome": "paid_on_site"}
    assert counts() == before  # nothing written to the live store
    with pytest.raises(simulation.UnknownCustomer):
        await simulation.simulate_stored(sessions, parse({"customer_id": "NOPE"}), None)
