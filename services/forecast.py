"""Workload forecast: the tasks each role queue and each named account manager would get per
week for the next weeks under a policy version, against each queue's capacity.

From the process definitions (processes.yaml merged with each customer's strategy
parameters), the stored population segmented under the version, and rates observed in the
store (call-backs not reaching the customer; event-driven processes started per week and
tasks per started process), with the version's `forecast.defaults` where nothing was
observed. Every number used is listed as an assumption with its source.

Segment-driven processes (trigger: segment) are periodic: a customer already running one
under the active version is in steady state (its cycle phase is unknown, so a cycle's tasks
fall uniformly over the period); a customer the version newly gives the process starts at
activation, the first cycle after the stable hash share of `first_cycle_spread` (call-backs,
exact per customer) or a random share of `jitter` (scheduled tasks), a visit at once, as the
workflows do. A call-back cycle is a call, a
retry after `answer_after` + `retry_after` while unreachable (up to `max_tries`), then an
on-site visit. Event-driven processes are steady: arrivals x tasks per arrival, each week.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.durations import parse_duration
from store.models import AuditEntry, Task
from workflows.callback import stable_share

WEEK = 7.0


@dataclass
class Assumption:
    """One number the forecast used, and where it came from."""

    name: str
    value: float
    source: str  # observed | policy | definition


@dataclass
class Forecast:
    """Expected tasks per week: by queue, by (queue, kind), by named assignee."""

    version: str
    weeks: int
    queues: dict[str, list[float]] = field(default_factory=dict)
    kinds: dict[str, list[float]] = field(default_factory=dict)  # "queue/kind"
    assignees: dict[str, list[float]] = field(default_factory=dict)
    capacity: dict[str, float] = field(default_factory=dict)  # tasks per week
    over: dict[str, list[int]] = field(default_factory=dict)  # week numbers (1-based)
    assumptions: list[Assumption] = field(default_factory=list)

    def add(self, queue: str, kind: str, assignee: str | None, week: int, n: float) -> None:
        if not 0 <= week < self.weeks or n == 0:
            return
        for table, key in ((self.queues, queue), (self.kinds, f"{queue}/{kind}")):
            table.setdefault(key, [0.0] * self.weeks)[week] += n
        if assignee:
            self.assignees.setdefault(assignee, [0.0] * self.weeks)[week] += n

    def to_json(self) -> dict[str, Any]:
        def r(xs: list[float]) -> list[float]:
            return [round(x, 2) for x in xs]

        return {
            "policy_version": self.version, "weeks": self.weeks,
            "queues": {k: r(v) for k, v in sorted(self.queues.items())},
            "kinds": {k: r(v) for k, v in sorted(self.kinds.items())},
            "assignees": {k: r(v) for k, v in sorted(self.assignees.items())},
            "capacity": self.capacity, "over_capacity": self.over,
            "assumptions": [a.__dict__ for a in self.assumptions],
        }  # fmt: skip


def days_of(value: Any, default: float = 0.0) -> float:
    if isinstance(value, str):
        return parse_duration(value).total_seconds() / 86400
    return float(value) if isinstance(value, int | float) else default


def in_week(lo: float, hi: float, weeks: int) -> list[tuple[int, float]]:
    """Shares of a uniform event on [lo, hi] days falling in each week (a point when equal)."""
    if hi <= lo:
        return [(int(lo // WEEK), 1.0)] if lo >= 0 else []
    out = []
    for w in range(max(0, int(lo // WEEK)), min(weeks, int(hi // WEEK) + 1)):
        share = (min(hi, (w + 1) * WEEK) - max(lo, w * WEEK)) / (hi - lo)
        if share > 0:
            out.append((w, share))
    return out


def cycle_tasks(p: dict[str, Any], u: float, answer: float) -> list[tuple[float, str, str, float]]:
    """(day offset in the cycle, kind, queue, expected count) of one cycle of a process."""
    task = p.get("task") or {}
    kind, queue = str(task.get("kind") or task.get("task")), str(task.get("assignee_role"))
    if "max_tries" not in p:
        return [(0.0, kind, queue, 1.0)]
    tries, gap = int(p["max_tries"]), answer + days_of(p.get("retry_after"))
    out = [(i * gap, kind, queue, u**i) for i in range(tries)]
    after = p.get("after_max_tries") or {}
    if after:
        out.append(((tries - 1) * gap + answer, str(after.get("kind") or after.get("task")),
                    str(after.get("assignee_role")), u**tries))  # fmt: skip
    return out


def busy_days(p: dict[str, Any], u: float, answer: float) -> float:
    """Expected days from a cycle's first task to its last answer: the next cycle's period
    starts only then (the workflows sleep the period after the cycle's work)."""
    if "max_tries" not in p:
        return answer
    tries, gap = int(p["max_tries"]), answer + days_of(p.get("retry_after"))
    reached = sum(u**i * (1 - u) * (i * gap + answer) for i in range(tries))
    visit = (
        (tries - 1) * gap + 2 * answer if p.get("after_max_tries") else (tries - 1) * gap + answer
    )
    return reached + u**tries * visit


def first_window(name: str, p: dict[str, Any], customer_id: str) -> tuple[float, float]:
    """When a new customer's first cycle comes (a window in days; a point when known)."""
    if "first_cycle_spread" in p:  # the call-back's stable hash share, as the workflow does
        at = stable_share(customer_id) * days_of(p["first_cycle_spread"])
        return at, at
    if name == "key_account_visit":
        return 0.0, 0.0  # the visit workflow opens the first task at once
    return 0.0, days_of(p.get("jitter"))  # a random share of the jitter


def period_of(p: dict[str, Any]) -> float:
    for key in ("every", "visit_every", "period"):
        if p.get(key):
            return days_of(p[key])
    return 0.0


def observed(session: Session, weeks: int) -> dict[str, Any]:
    """Rates seen in the store over the last `weeks`: call-back reach, event-driven starts
    per week and tasks per start (by process and kind)."""
    since = datetime.now(UTC) - timedelta(days=WEEK * weeks)
    calls = session.scalars(
        select(Task.result).where(Task.kind == "callback_call", Task.status == "completed",
                                  Task.created_at >= since)
    ).all()  # fmt: skip
    outcomes = [r.get("outcome") for r in calls if isinstance(r, dict)]
    starts: dict[str, int] = defaultdict(int)
    started = select(AuditEntry.target).where(
        AuditEntry.action == "workflow.started", AuditEntry.at >= since
    )
    for target in session.scalars(started):
        starts[target.removeprefix("workflow:").split(":", 1)[0]] += 1
    tasks: dict[tuple[str, str], int] = defaultdict(int)
    for wid, kind in session.execute(
        select(Task.workflow_id, Task.kind).where(Task.created_at >= since)
    ):
        tasks[(wid.split(":", 1)[0], kind)] += 1
    return {"calls": len(outcomes), "unreachable": outcomes.count("unreachable"),
            "starts": dict(starts), "tasks": dict(tasks)}  # fmt: skip


def task_blocks(node: Any) -> dict[str, str]:
    """Task kind -> role queue of every task block in a process definition."""
    out: dict[str, str] = {}
    if isinstance(node, dict):
        kind = node.get("kind") or node.get("task")
        if isinstance(kind, str) and isinstance(node.get("assignee_role"), str):
            out[kind] = node["assignee_role"]
        for value in node.values():
            out.update(task_blocks(value))
    elif isinstance(node, list):
        for item in node:
            out.update(task_blocks(item))
    return out


# workflow id prefix of an event-driven process whose workflow is named differently
WORKFLOW_PREFIX = {"outage_notice": "outage"}
MIN_OBSERVED_CALLS = 20  # fewer observed calls: the policy default reach is used
