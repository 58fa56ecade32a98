"""Simulation as the service offers it: a scenario against a stored version and the live
population (read only), and scenario files as regression tests of a policy directory.

`simulate` reads the live store once (the version's bundle, a stored customer's record, the
ABC cut points of the last population run) in a short transaction, then runs the sandbox;
the live Temporal is never called. `check` compares a timeline with a scenario's expected steps.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

import rules
from activities import customers as customer_store
from activities import policy_store
from config import Settings
from rules.reference import category_of
from services import abc_cuts, simulate
from services.policy_diff import resolve
from services.scenario import Scenario, ScenarioProblem, Step, load_file
from store.models import Customer


class UnknownCustomer(LookupError):
    """The scenario names a customer that is not stored (`path` = customer_id)."""

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"no customer {customer_id}")
        self.path = "customer_id"


def abc_in_population(session: Session, bundle: rules.Bundle, record: dict[str, Any]) -> str:
    """The ABC class `record` gets against the cut points of the last population run (the
    rest class before the first run), as an upsert would classify it; read only."""
    category = category_of(bundle, record)[0] if bundle.abc.partition_by == "category" else ""
    return abc_cuts.classify_with(abc_cuts.current(session, bundle), bundle, record, category)


def prepare(
    session: Session, sc: Scenario, version: str | None
) -> tuple[rules.Bundle, dict[str, Any], str]:
    """(bundle, validated record, ABC class) for `sc` under `version` (default: active)."""
    bundle = policy_store.bundle_of_version(session, resolve(session, version, "version"))
    if sc.customer is not None:
        record = dict(sc.customer)
    else:
        row = session.get(Customer, sc.customer_id)
        if row is None or sc.customer_id is None:
            raise UnknownCustomer(str(sc.customer_id))
        record = rules.validate_record(customer_store.record_of(row))
    abc = sc.abc_class or abc_in_population(session, bundle, record)
    return bundle, record, abc


async def simulate_stored(
    sessions: sessionmaker[Session],
    sc: Scenario,
    version: str | None,
    settings: Settings | None = None,
) -> simulate.Timeline:
    """Simulate `sc` under a stored version (see the module docstring)."""

    def read() -> tuple[rules.Bundle, dict[str, Any], str]:
        with sessions() as s:
            return prepare(s, sc, version)

    bundle, record, abc = await asyncio.to_thread(read)
    return await simulate.run(bundle, record, abc, sc, settings)


@dataclass
class Outcome:
    """A scenario file's test result."""

    file: str
    passed: bool
    problems: list[str] = field(default_factory=list)
    timeline: simulate.Timeline | None = None


def check(sc: Scenario, timeline: simulate.Timeline) -> list[str]:
    """Differences between the expected steps and the timeline ([] = as expected)."""
    actual = timeline.steps()
    used = [False] * len(actual)
    problems = []
    for want in sc.expect or []:
        match = next(
            (i for i, got in enumerate(actual) if not used[i] and got.step == want.step
             and abs(got.day - want.day) <= sc.day_tolerance),
            None,
        )  # fmt: skip
        if match is None:
            problems.append(f"missing: day {want.day}: {want.step}")
        else:
            used[match] = True
    problems += [f"unexpected: day {got.day}: {got.step}" for i, got in enumerate(actual)
                 if not used[i]]  # fmt: skip
    return problems


async def run_directory(
    directory: Path, bundle: rules.Bundle, settings: Settings | None = None
) -> list[Outcome]:
    """Run every scenario file (*.yaml) in `directory` under `bundle`; inline customers only
    (ABC class C unless the file says), since no store is involved."""
    outcomes = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            sc = load_file(path)
            if sc.customer is None:
                raise ScenarioProblem([("customer", "a scenario file needs an inline customer")],
                                      str(path))  # fmt: skip
        except ScenarioProblem as err:
            outcomes.append(Outcome(str(path), False, [str(err)]))
            continue
        timeline = await simulate.run(bundle, sc.customer, sc.abc_class or "C", sc, settings)
        if sc.expect is None:
            problems = ["no `expect:` list (the steps are printed with --show)"]
        else:
            problems = check(sc, timeline)
        outcomes.append(Outcome(str(path), not problems, problems, timeline))
    return outcomes


def expect_yaml(steps: list[Step]) -> str:
    """The `expect:` block for a scenario file, from a timeline's steps."""
    lines = ["expect:"] + [f"  - {{day: {s.day}, step: {s.step}}}" for s in steps]
    return "\n".join(lines) + "\n"
