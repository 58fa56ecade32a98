"""`segflow policy test|simulate|forecast`: the foresight tools on a policy directory.

`test DIR` runs every scenario file in DIR on the time-skipping engine under the policy
directory (default `policies/`) and exits 1 when a timeline differs from its `expect:` list;
`simulate FILE` prints one scenario's timeline. Exit 2: the policies or a file do not load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import rules
from config import Settings
from services import simulate, simulation
from services.scenario import ScenarioProblem, load_file


def register(policy_sub: Any) -> None:
    """Add the subcommands to `segflow policy`."""
    test = policy_sub.add_parser("test", help="run scenario files, fail on a changed timeline")
    test.add_argument("directory", help="directory of scenario files (*.yaml)")
    test.add_argument("--policies", default="policies", help="policy directory")
    test.add_argument("--show", action="store_true", help="print each timeline's steps")
    test.set_defaults(func=cmd_test)
    sim = policy_sub.add_parser("simulate", help="one scenario's timeline, step by step")
    sim.add_argument("scenario", help="a scenario file (YAML)")
    sim.add_argument("--policies", default="policies", help="policy directory")
    sim.add_argument("--json", action="store_true", help="the whole timeline as JSON")
    sim.set_defaults(func=cmd_simulate)
    fc = policy_sub.add_parser("forecast", help="tasks per queue and week from the store")
    fc.add_argument("--version", help="a stored version (default: the active one)")
    fc.add_argument("--weeks", type=int, default=13, help="weeks ahead (1-52)")
    fc.add_argument("--csv", action="store_true", help="CSV instead of a table")
    fc.set_defaults(func=cmd_forecast)
    st = policy_sub.add_parser("stage", help="staged activation: start, widen, compare, roll back")
    st.add_argument("action", choices=["start", "widen", "compare", "rollback"])
    st.add_argument("target", help="the version (start) or the stage id")
    st.add_argument("--share", type=float, help="share of customers (start, widen)")
    st.add_argument("--segment", help="DIMENSION=VALUE, e.g. tag=channel_silent (start)")
    st.add_argument("--actor", default="cli", help="who, for the audit log")
    st.set_defaults(func=cmd_stage)


def _bundle(directory: str) -> rules.Bundle | None:
    try:
        return rules.load_bundle(directory)
    except rules.PolicyError as err:
        for issue in err.issues:
            print(issue)
        return None


def print_timeline(timeline: simulate.Timeline) -> None:
    """One line per entry: day, date, step."""
    a = timeline.assignment
    print(f"customer {timeline.customer_id} under {timeline.policy_version}: "
          f"{a['category']} / {a['abc_class']} / {', '.join(a['tags']) or 'no tags'}; "
          f"processes {', '.join(sorted(a['processes'])) or 'none'}")  # fmt: skip
    for e in timeline.entries:
        print(f"day {e.day:>3}  {e.at[:16]}  {e.step}")


def cmd_test(args: argparse.Namespace) -> int:
    bundle = _bundle(args.policies)
    directory = Path(args.directory)
    if bundle is None or not directory.is_dir():
        if bundle is not None:
            print(f"{directory}: not a directory")
        return 2
    outcomes = asyncio.run(simulation.run_directory(directory, bundle, Settings()))
    for o in outcomes:
        print(f"{'PASS' if o.passed else 'FAIL'} {o.file}")
        for problem in o.problems:
            print(f"  {problem}")
        if args.show and o.timeline is not None:
            print(simulation.expect_yaml(o.timeline.steps()))
    failed = sum(not o.passed for o in outcomes)
    print(f"{len(outcomes) - failed} passed, {failed} failed")
    return 1 if failed or not outcomes else 0


def cmd_simulate(args: argparse.Namespace) -> int:
    bundle = _bundle(args.policies)
    if bundle is None:
        return 2
    try:
        sc = load_file(Path(args.scenario))
        if sc.customer is None:
            raise ScenarioProblem([("customer", "give an inline customer record")], args.scenario)
    except ScenarioProblem as err:
        print(err)
        return 2
    timeline = asyncio.run(simulate.run(bundle, sc.customer, sc.abc_class or "C", sc, Settings()))
    if args.json:
        print(json.dumps(timeline.to_json(), ensure_ascii=False, indent=2, default=str))
    else:
        print_timeline(timeline)
    return 0


def cmd_forecast(args: argparse.Namespace) -> int:
    """The forecast of a stored version over the stored population (the store of Settings)."""
    from services import forecast_run
    from services.policy_diff import UnknownVersion
    from store import db

    settings = Settings()
    sessions = db.session_factory(db.make_engine(settings.store_url))
    try:
        with sessions() as s:
            data = forecast_run.report(s, args.version, max(1, min(args.weeks, 52)))
    except UnknownVersion as err:
        print(err)
        return 2
    if args.csv:
        for row in forecast_run.csv_rows(data):
            print(",".join(row))
        return 0
    print(f"forecast of {data['policy_version']}, {data['weeks']} weeks (tasks per week)")
    for key, series in [
        *data["queues"].items(),
        *data["kinds"].items(),
        *data["assignees"].items(),
    ]:
        cap = data["capacity"].get(key)
        over = data["over_capacity"].get(key, [])
        line = " ".join(f"{v:6.1f}" for v in series)
        tail = f"  capacity {cap:g}" if cap is not None else ""
        tail += f"  OVER in weeks {over}" if over else ""
        print(f"{key:<34} {line}{tail}")
    for a in data["assumptions"]:
        print(f"  assumption {a['name']} = {a['value']} ({a['source']})")
    if "baseline" in data:
        base = data["baseline"]["queues"]
        print("active version: " + ", ".join(f"{q} {sum(v):.0f}" for q, v in base.items()))
    return 1 if data["over_capacity"] else 0


def cmd_stage(args: argparse.Namespace) -> int:
    """Staged activation against the store of Settings; prints the stage (or its KPIs)."""
    import rules as rules_pkg
    from services import staging
    from services.errors import DomainError
    from store import db

    settings = Settings()
    sessions = db.session_factory(db.make_engine(settings.store_url))
    engines: dict[str, rules_pkg.Engine] = {}

    def engine_for(bundle: rules_pkg.Bundle) -> rules_pkg.Engine:
        return engines.setdefault(bundle.version, rules_pkg.Engine(bundle))

    try:
        with sessions() as s:
            if args.action == "start":
                dim, _, value = (args.segment or "").partition("=")
                out = staging.start(s, engine_for, args.target, args.actor, share=args.share,
                                    dimension=dim or None, value=value or None)  # fmt: skip
            elif args.action == "widen":
                out = staging.widen(s, engine_for, int(args.target), args.share or 0, args.actor)
            elif args.action == "rollback":
                out = staging.rollback(s, engine_for, int(args.target), args.actor)
            else:
                out = staging.compare(s, int(args.target))
    except (DomainError, ValueError) as err:
        issues = "; ".join(f"{i.path}: {i.message}" for i in getattr(err, "issues", []))
        print(f"{err}{' (' + issues + ')' if issues else ''}")
        return 2
    print(json.dumps(out, ensure_ascii=False, indent=2, default=str))
    return 0
