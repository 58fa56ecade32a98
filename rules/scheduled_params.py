"""Typed parameters of the scheduled-task processes, built when the bundle loads.

key_account_meeting, record_verification, special_inspection and electrician_training share
one shape (a period, a jitter, optional notice channels, one task, an optional escalation)
and one workflow base (workflows/scheduled.py). As for the other processes
(`rules.process_params`): checked once at load with file:line:col, durations typed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from rules.arrears_params import TaskBlock, _secs
from rules.durations import is_duration
from rules.errors import PolicyIssue
from rules.process_params import _Checks, _section
from rules.yamlpos import Document

SCHEDULED = ("key_account_meeting", "record_verification", "special_inspection",
             "electrician_training")  # fmt: skip


@dataclass(frozen=True)
class ScheduledParams:
    """Everything a scheduled-task workflow reads from the policy."""

    period_seconds: float
    jitter_seconds: float
    notice_channels: tuple[str, ...]
    task: TaskBlock
    escalation_after_seconds: float
    escalation_to: str  # "" when an overdue task is not escalated

    def with_overrides(self, overrides: dict[str, Any]) -> ScheduledParams:
        """The strategy's `period` (special_inspection: inspection_every) as a duration."""
        period = overrides.get("period")
        if not is_duration(period) or _secs(period) <= 0:
            return self
        return replace(self, period_seconds=_secs(period))


def build_scheduled(doc: Document, issues: list[PolicyIssue]) -> dict[str, ScheduledParams]:
    """The typed parameters of each scheduled-task process that builds without issues."""
    out: dict[str, ScheduledParams] = {}
    for name in SCHEDULED:
        c = _section(doc, name)
        if c is None:
            continue
        r = _Checks(doc, issues)
        esc: dict[str, Any] = c["escalation"] if isinstance(c.get("escalation"), dict) else {}
        params = ScheduledParams(
            period_seconds=r.positive(c, (name,), "period"),
            jitter_seconds=_secs(c.get("jitter")),
            notice_channels=tuple(str(x) for x in c.get("notice_channels", [])),
            task=r.task_of(c.get("task"), (name, "task")),
            escalation_after_seconds=r.positive(esc, (name, "escalation"), "after"),
            escalation_to=str(esc.get("to_role", "")),
        )
        if r.ok:
            out[name] = params
    return out
