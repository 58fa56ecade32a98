"""The forecast of a version over the stored population (services/forecast.py's model)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import rules
from activities import customers as customer_store
from activities import policy_store
from services.forecast import (
    MIN_OBSERVED_CALLS,
    WEEK,
    WORKFLOW_PREFIX,
    Assumption,
    Forecast,
    busy_days,
    cycle_tasks,
    days_of,
    first_window,
    in_week,
    observed,
    period_of,
    task_blocks,
)
from services.policy_diff import resolve
from store.models import Assignment, Customer


def periodic(
    out: Forecast, customer_id: str, name: str, p: dict[str, Any], running: bool, u: float,
    answer: float, assignee: str | None, manager_queues: list[str],
) -> None:  # fmt: skip
    """Add one customer's segment-driven process `name` (merged parameters `p`)."""
    period = period_of(p)
    if period <= 0:
        return
    period += busy_days(p, u, answer)  # a cycle's work, then the period
    horizon = out.weeks * WEEK
    for offset, kind, queue, n in cycle_tasks(p, u, answer):
        who = assignee if queue in manager_queues else None
        if running:  # steady state: phase unknown, uniform over the period
            for week in range(out.weeks):
                out.add(queue, kind, who, week, n * WEEK / period)
            continue
        lo, hi = first_window(name, p, customer_id)
        k = 0
        while lo + k * period + offset < horizon:
            start = k * period + offset
            for week, share in in_week(lo + start, hi + start, out.weeks):
                out.add(queue, kind, who, week, n * share)
            k += 1


def forecast(session: Session, version: str | None, weeks: int = 13) -> Forecast:
    """The forecast of `version` (default: the active one) over the stored population, with
    rates observed in the store; see services/forecast.py."""
    version = resolve(session, version, "version")
    bundle = policy_store.bundle_of_version(session, version)
    cfg: dict[str, Any] = bundle.processes.get("forecast") or {}
    seen = observed(session, int(cfg.get("observe_weeks", 13)))
    rows = session.scalars(select(Customer).where(Customer.status == "active")).all()
    running = {a.customer_id: set(a.processes or {}) for a in session.scalars(select(Assignment))}
    return build(bundle, [customer_store.record_of(r) for r in rows], running, seen, weeks)


def build(
    bundle: rules.Bundle, records: list[dict[str, Any]], running: dict[str, set[str]],
    seen: dict[str, Any], weeks: int = 13,
) -> Forecast:  # fmt: skip
    """The forecast for `records` (segmented under `bundle`), the processes each already runs
    (`running`) and the observed rates `seen` (the shape `observed` returns)."""
    cfg: dict[str, Any] = bundle.processes.get("forecast") or {}
    defaults: dict[str, Any] = cfg.get("defaults") or {}
    out = Forecast(bundle.version, weeks)
    if seen["calls"] >= MIN_OBSERVED_CALLS:
        u, source = seen["unreachable"] / seen["calls"], "observed"
    else:
        u, source = float(defaults.get("unreachable_share", 0.0)), "policy"
    out.assumptions.append(Assumption("unreachable_share", round(u, 3), source))
    answer = days_of(cfg.get("answer_after"), 1.0)
    out.assumptions.append(Assumption("answer_after_days", answer, "policy"))
    routing: dict[str, Any] = bundle.processes.get("routing") or {}
    manager_queues = list(routing.get("manager_queues") or [])
    segment = {n: d for n, d in bundle.processes.items() if d.get("trigger") == "segment"}
    out.assumptions.append(Assumption("customers", len(records), "observed"))
    for record, a in zip(records, rules.segment_population(bundle, records), strict=True):
        manager = (record.get("contacts") or {}).get("account_manager")
        who = manager if a.actions.get("account_manager") and manager else None
        for name in sorted(set(a.processes) & set(segment)):
            p = {**segment[name], **a.processes[name]}
            was = name in running.get(a.customer_id, set())
            periodic(out, a.customer_id, name, p, was, u, answer, who, manager_queues)
    for name, d in sorted(bundle.processes.items()):
        if d.get("trigger") == "event":
            _event_driven(out, name, d, seen, defaults, int(cfg.get("observe_weeks", 13)))
    days = int(cfg.get("working_days_per_week", 5))
    for queue, c in (cfg.get("capacity") or {}).items():
        out.capacity[queue] = float(c["staff"]) * float(c["tasks_per_person_per_day"]) * days
    per_person = cfg.get("named_assignee_tasks_per_day")
    if per_person is not None:
        out.capacity.update({n: float(per_person) * days for n in out.assignees})
    for key, series in [*out.queues.items(), *out.assignees.items()]:
        limit = out.capacity.get(key)
        weeks_over = [i + 1 for i, v in enumerate(series) if limit is not None and v > limit]
        if weeks_over:
            out.over[key] = weeks_over
    return out


def _event_driven(
    out: Forecast, name: str, d: dict[str, Any], seen: dict[str, Any], defaults: dict[str, Any],
    observe_weeks: int,
) -> None:  # fmt: skip
    """Steady weekly tasks of an event-driven process: arrivals x tasks per arrival."""
    prefix = WORKFLOW_PREFIX.get(name, name)
    starts = int(seen["starts"].get(prefix, 0))
    blocks = task_blocks(d)
    if starts:
        arrivals, source = starts / observe_weeks, "observed"
    else:
        arrivals = float((defaults.get("event_arrivals_per_week") or {}).get(name, 0.0))
        source = "policy"
    out.assumptions.append(Assumption(f"{name}.arrivals_per_week", round(arrivals, 3), source))
    if arrivals <= 0:
        return
    for kind, queue in sorted(blocks.items()):
        count = seen["tasks"].get((prefix, kind), 0)
        per = count / starts if starts else 1.0
        out.assumptions.append(Assumption(f"{name}.{kind}.per_arrival", round(per, 3),
                                          "observed" if starts else "definition"))  # fmt: skip
        for week in range(out.weeks):
            out.add(queue, kind, None, week, arrivals * per)


def report(session: Session, version: str | None, weeks: int = 13) -> dict[str, Any]:
    """The forecast of `version` and, when it is not the active one, of the active version
    over the same population (the baseline a draft is judged against)."""
    out = forecast(session, version, weeks).to_json()
    active = policy_store.active_row(session)
    if active is not None and active.version != out["policy_version"]:
        out["baseline"] = forecast(session, active.version, weeks).to_json()
    return out


def csv_rows(data: dict[str, Any]) -> list[list[str]]:
    """The forecast as CSV rows: version, series (queue, queue/kind, assignee), week, tasks,
    capacity (tasks per week; empty when none), over capacity."""
    rows = [["policy_version", "series", "week", "tasks", "capacity", "over_capacity"]]
    for part in [data, data.get("baseline")]:
        if not part:
            continue
        for table in ("queues", "kinds", "assignees"):
            for key, series in part[table].items():
                cap = part["capacity"].get(key)
                over = set(part["over_capacity"].get(key, []))
                limit = "" if cap is None else f"{cap:g}"
                for week, value in enumerate(series, 1):
                    flag = "yes" if week in over else ""
                    rows.append([part["policy_version"], key, str(week), f"{value:g}", limit, flag])
    return rows
