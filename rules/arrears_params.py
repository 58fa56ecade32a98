"""Typed parameters of the arrears ladder, built when the bundle loads.

The workflow used to read `processes.yaml` as a dict and stalled on a KeyError when a key was
missing (a ladder without a re-notice step). Here every key the workflow needs is checked
once, at load, with file:line:col; `ArrearsParams` is what the plan activity hands on.
Durations are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rules.durations import is_duration, parse_duration
from rules.errors import PolicyIssue
from rules.yamlpos import Document

PHASE = ("disconnection_notice", "renotice", "disconnection")


@dataclass(frozen=True)
class TaskBlock:
    """A task a step opens: kind, inbox role, due time."""

    task: str
    assignee_role: str
    due_seconds: float = 0.0


@dataclass(frozen=True)
class LadderStep:
    """One step before the disconnection phase: a message or a task, then a wait."""

    step: str
    wait_seconds: float = 0.0
    channel: str = ""
    task: TaskBlock | None = None
    eligible: str = "always"


@dataclass(frozen=True)
class ArrearsParams:
    """Everything the arrears workflow reads from the policy."""

    jurisdiction: str
    ladder: tuple[LadderStep, ...]
    notice_min_days: int
    notice_max_days: int
    notice_lead_seconds: float
    notice_channels: tuple[str, ...]
    renotice_before_seconds: float
    renotice_channels: tuple[str, ...]
    disconnection_task: TaskBlock | None
    reconnection_within_seconds: float
    reconnection: TaskBlock
    reconnection_escalate_to: str
    notice_delivery: TaskBlock
    approval: TaskBlock
    approval_timeout_seconds: float
    approval_categories: tuple[str, ...]
    filing_categories: tuple[str, ...]
    life_support_disconnect: bool
    life_support_review: TaskBlock
    respect_calendar: bool
    review_ahead_seconds: float = 30 * 86400.0  # registration review opens this long ahead


def _secs(value: Any) -> float:
    return parse_duration(value).total_seconds() if is_duration(value) else 0.0


class _Reader:
    def __init__(self, doc: Document, issues: list[PolicyIssue]) -> None:
        self.doc, self.issues, self.ok = doc, issues, True

    def need(self, block: dict[str, Any], path: tuple[str | int, ...], key: str) -> Any:
        if key not in block:
            self.ok = False
            self.issues.append(self.doc.issue(path, f"missing required key {key!r}"))
        return block.get(key)

    def task(self, block: Any, path: tuple[str | int, ...]) -> TaskBlock:
        if not isinstance(block, dict):
            self.ok = False
            self.issues.append(self.doc.issue(path, "missing task block (task, assignee_role)"))
            return TaskBlock("", "")
        kind = self.need(block, path, "task")
        role = self.need(block, path, "assignee_role")
        return TaskBlock(str(kind), str(role), _secs(block.get("due")))


def build_arrears(doc: Document, issues: list[PolicyIssue]) -> ArrearsParams | None:
    """The typed ladder of a schema-valid processes.yaml; None (with issues) when unusable."""
    data = doc.data if isinstance(doc.data, dict) else {}
    a = data.get("arrears")
    if not isinstance(a, dict) or not isinstance(a.get("steps"), list):
        return None
    r = _Reader(doc, issues)
    steps: list[dict[str, Any]] = [s if isinstance(s, dict) else {} for s in a["steps"]]
    where = {str(s.get("step")): i for i, s in enumerate(steps)}
    ladder: list[LadderStep] = []
    first_phase = min((where[n] for n in PHASE if n in where), default=len(steps))
    for i, s in enumerate(steps[:first_phase]):
        path = ("arrears", "steps", i)
        has_task = "task" in s
        if not has_task and "channel" not in s:
            r.ok = False
            issues.append(doc.issue(path, "a ladder step needs a channel or a task"))
        ladder.append(
            LadderStep(
                step=str(s.get("step")),
                wait_seconds=_secs(s.get("wait")),
                channel=str(s.get("channel", "")),
                task=r.task(s, path) if has_task else None,
                eligible=str(s.get("eligible", "always")),
            )
        )
    notice = steps[where["disconnection_notice"]] if "disconnection_notice" in where else {}
    renotice = steps[where["renotice"]] if "renotice" in where else {}
    npath = ("arrears", "steps", where.get("disconnection_notice", 0))
    rpath = ("arrears", "steps", where.get("renotice", 0))
    lo = r.need(notice, npath, "notice_min_days") if notice else None
    hi = r.need(notice, npath, "notice_max_days") if notice else None
    before = r.need(renotice, rpath, "before") if renotice else None
    cut = steps[where["disconnection"]] if "disconnection" in where else {}
    life: dict[str, Any] = a["life_support"] if isinstance(a.get("life_support"), dict) else {}
    for key in ("reconnection", "notice_delivery", "approval", "approval_timeout"):
        r.need(a, ("arrears",), key)
    reconnection: dict[str, Any] = (
        a["reconnection"] if isinstance(a.get("reconnection"), dict) else {}
    )
    params = ArrearsParams(
        jurisdiction=str(a.get("jurisdiction", "cn")),
        ladder=tuple(ladder),
        notice_min_days=int(lo or 0),
        notice_max_days=int(hi or 0),
        notice_lead_seconds=_secs(notice.get("lead")),
        notice_channels=tuple(notice.get("channels", [])),
        renotice_before_seconds=_secs(before),
        renotice_channels=tuple(renotice.get("channels", [])),
        disconnection_task=r.task(cut, ("arrears", "steps", where["disconnection"]))
        if "task" in cut
        else None,
        reconnection_within_seconds=_secs(a.get("reconnection_within")),
        reconnection=r.task(reconnection, ("arrears", "reconnection")),
        reconnection_escalate_to=str(reconnection.get("escalate_to_role", "supervisor")),
        notice_delivery=r.task(a.get("notice_delivery"), ("arrears", "notice_delivery")),
        approval=r.task(a.get("approval"), ("arrears", "approval")),
        approval_timeout_seconds=_secs(a.get("approval_timeout")),
        approval_categories=tuple(a.get("supervisor_approval_categories", [])),
        filing_categories=tuple(a.get("authority_filing_categories", [])),
        life_support_disconnect=bool(life.get("disconnect", False)),
        life_support_review=r.task(life, ("arrears", "life_support")),
        respect_calendar=bool(a.get("respect_calendar", True)),
        review_ahead_seconds=_secs(life.get("review_ahead")) or 30 * 86400.0,
    )
    return params if r.ok else None
