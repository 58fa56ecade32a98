"""The workload forecast against the real workflows: a small population's segment processes
run 13 weeks on the time-skipping server (services/sandbox.py) with every call unreachable,
and the tasks they open per week and kind are compared with the forecast's."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import rules
from activities import customers as customer_store
from config import ROOT
from services.forecast_run import build
from services.sandbox import DAY, open_sandbox
from services.scenario import Answer, Scenario
from services.simulate import Driver, store_assignment
from store.models import Task

WEEKS = 13


def _population(n: int) -> list[dict[str, object]]:
    """Revenue ranks: the top 5% class A (key accounts), the next 15% B (call-backs)."""
    out = []
    for i in range(n):
        contacts = {"phone": f"+86 138 0000 {i:04d}", "account_manager": "mgr.zhao"}
        raw = {"customer_id": f"F{i:03d}", "tariff": "commercial",
               "annual_revenue": 100_000 - i, "contacts": contacts}  # fmt: skip
        out.append(rules.validate_record(raw))
    return out


async def test_forecast_matches_the_real_workflows() -> None:
    bundle = rules.load_bundle(ROOT / "policies")
    records = _population(40)
    assignments = rules.segment_population(bundle, records)
    abc = {a.customer_id: a.abc_class for a in assignments}
    # everyone unreachable: 3 calls, then an on-site visit, each answered a day after opening
    seen = {"calls": 100, "unreachable": 100, "starts": {}, "tasks": {}}
    expected = build(bundle, records, {}, seen, WEEKS)
    sc = Scenario(days=WEEKS * 7, answers={"callback_call": Answer(outcome="unreachable")})

    def load(s: Session) -> None:
        for record in records:
            customer_store.store_record(s, record)
        s.flush()
        for record in records:
            store_assignment(s, bundle, record, abc[str(record["customer_id"])])

    async with open_sandbox(bundle, load) as sb:
        start = await sb.now()
        driver = Driver(sb, sc, "", "C", start)
        for a in assignments:
            await driver.start_segment_processes(a.processes, {}, a.customer_id)
        await sb.run(start + timedelta(days=WEEKS * 7), driver)
        opened = [x for x in sb.seen if x.what == "task.opened"]
        managed = await sb.store(
            lambda s: s.scalar(
                select(func.count()).select_from(Task).where(Task.assignee == "mgr.zhao")
            )
        )
    actual: dict[str, list[int]] = defaultdict(lambda: [0] * WEEKS)
    for x in opened:
        week = math.floor((x.at - start).total_seconds() / DAY / 7)
        if week < WEEKS:
            actual[f"{x.detail['queue']}/{x.detail['kind']}"][week] += 1
    assert set(actual) == {k for k, v in expected.kinds.items() if sum(v) >= 0.5}, (
        dict(actual),
        expected.kinds,
    )
    # the account manager's tasks (routing gives the key accounts' agent tasks to them)
    assert managed > 0 and abs(managed - sum(expected.assignees["mgr.zhao"])) <= 1.0
    for key, series in expected.kinds.items():
        got = actual.get(key, [0] * WEEKS)
        total = sum(series)
        # totals over the 13 weeks agree; week by week within the spread of a small population
        assert abs(sum(got) - total) <= max(1.0, 0.1 * total), (key, got, series)
        cumulative_gap = max(abs(sum(got[: w + 1]) - sum(series[: w + 1])) for w in range(WEEKS))
        assert cumulative_gap <= max(2.0, 0.25 * total), (key, got, series)
