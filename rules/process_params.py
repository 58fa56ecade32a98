"""Typed process parameters (call-back, visit, service request, hazard, closure), at load.

Like the arrears ladder (`rules.arrears_params`): the workflows used to read
`processes.yaml` as a dict, with durations found by guessing from key names (`due` ->
`due_seconds`), so a value the workflow could not use surfaced as a KeyError inside a running
workflow. Here every key a process needs is read once, at load, with file:line:col, and
durations are converted where the schema says they are durations. The JSON Schema already
checks shapes; this module checks what it cannot (zero durations, cross-field constraints).
A customer's strategy may override the boolean switches (`with_overrides`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from rules.arrears_params import TaskBlock, _Reader, _secs
from rules.durations import is_duration
from rules.errors import PolicyIssue
from rules.yamlpos import Document

SEVERITIES = ("general", "serious", "critical")


@dataclass(frozen=True)
class HazardParams:
    """Everything the hazard rectification workflow reads from the policy."""

    deadline_seconds: tuple[tuple[str, float], ...]  # (severity, seconds), SEVERITIES order
    reinspection: TaskBlock
    rounds_before_authority_report: int
    report_severities: tuple[str, ...]
    notice_channels: tuple[str, ...]
    authority_report: TaskBlock | None
    authority_reporting: bool
    closed_loop: bool
    reinspection_escalation_to: str  # "" when an overdue re-inspection is not escalated

    def with_overrides(self, overrides: dict[str, Any]) -> HazardParams:
        """The customer's strategy switches (authority_reporting, closed_loop) applied."""
        return replace(
            self,
            authority_reporting=_switch(overrides, "authority_reporting", self.authority_reporting),
            closed_loop=_switch(overrides, "closed_loop", self.closed_loop),
        )


@dataclass(frozen=True)
class ClosureParams:
    """Everything the account closure workflow reads from the policy."""

    inspection_required: bool
    inspection: TaskBlock
    theft_case: TaskBlock  # required: a strategy may ask for the inspection of any customer
    final_reading: TaskBlock
    settlement: TaskBlock

    def with_overrides(self, overrides: dict[str, Any]) -> ClosureParams:
        """The customer's strategy switch (inspection_required) applied."""
        required = _switch(overrides, "inspection_required", self.inspection_required)
        return replace(self, inspection_required=required)


@dataclass(frozen=True)
class CallbackParams:
    """Everything the call-back workflow reads from the policy."""

    period_seconds: float
    jitter_seconds: float
    first_cycle_spread_seconds: float  # the period when the policy names none
    call: TaskBlock
    retry_after_seconds: float
    max_tries: int
    visit: TaskBlock  # after max_tries unreachable calls
    escalation_after_seconds: float
    escalation_to: str

    def with_overrides(self, overrides: dict[str, Any]) -> CallbackParams:
        """Per-customer durations of the same name (the strategy's `every`, callback_every,
        replaces the period); values that are no positive duration are ignored."""
        secs = {k: _secs(v) for k, v in overrides.items() if is_duration(v) and _secs(v) > 0}
        period = secs.get("every", secs.get("period", self.period_seconds))
        tries = overrides.get("max_tries")
        return replace(
            self,
            period_seconds=period,
            jitter_seconds=secs.get("jitter", self.jitter_seconds),
            first_cycle_spread_seconds=secs.get(
                "first_cycle_spread", self.first_cycle_spread_seconds
            ),
            retry_after_seconds=secs.get("retry_after", self.retry_after_seconds),
            max_tries=tries if type(tries) is int and tries >= 1 else self.max_tries,
        )


@dataclass(frozen=True)
class ServiceRequestParams:
    """Everything the service request workflow reads from the policy."""

    response_sla_hours: int
    warn_at: float  # share of the SLA after which the request is flagged
    task: TaskBlock
    escalation_to: str  # the queue a breached request moves to

    def with_overrides(self, overrides: dict[str, Any]) -> ServiceRequestParams:
        """The strategy's `response_sla_hours` (a whole number of hours) replaces the default."""
        hours = overrides.get("response_sla_hours")
        if type(hours) is not int or hours < 1:
            return self
        return replace(self, response_sla_hours=hours)


@dataclass(frozen=True)
class VisitParams:
    """Everything the key-account visit workflow reads from the policy."""

    visit_every_seconds: float
    jitter_seconds: float
    task: TaskBlock
    escalation_after_seconds: float
    escalation_to: str  # "" when an overdue visit is not escalated

    def with_overrides(self, overrides: dict[str, Any]) -> VisitParams:
        """The strategy's `visit_every` (a duration) replaces the default period."""
        every = overrides.get("visit_every")
        if not is_duration(every) or _secs(every) <= 0:
            return self
        return replace(self, visit_every_seconds=_secs(every))


def _switch(overrides: dict[str, Any], key: str, default: bool) -> bool:
    # strategy parameters linked to these keys are booleans; a value of another type (a
    # store row written under an older bundle) is ignored, never guessed
    value = overrides.get(key)
    return value if isinstance(value, bool) else default


class _Checks(_Reader):
    """The arrears reader plus the checks the schema cannot express."""

    def positive(self, block: dict[str, Any], path: tuple[str | int, ...], key: str) -> float:
        seconds = _secs(block.get(key))
        if is_duration(block.get(key)) and seconds <= 0:  # a malformed one: the schema says
            self.fail((*path, key), f"{key} must be longer than zero (got {block[key]!r})")
        return seconds

    def fail(self, path: tuple[str | int, ...], message: str) -> None:
        self.ok = False
        self.issues.append(self.doc.issue(path, message))

    def task_of(self, block: Any, path: tuple[str | int, ...]) -> TaskBlock:
        if block is None:  # worded as the schema words a missing key
            self.fail(path[:-1], f"missing required key {path[-1]!r}")
            return TaskBlock("", "")
        if isinstance(block, dict) and "kind" in block:  # `kind` names the task too
            block = {**block, "task": block["kind"]}
        elif isinstance(block, dict) and "task" not in block:
            self.fail(path, "missing required key 'kind' (the task kind to open)")
            return TaskBlock("", "")
        t = self.task(block, path)
        if isinstance(block, dict):
            self.positive(block, path, "due")
        return t


def _section(doc: Document, name: str) -> dict[str, Any] | None:
    data = doc.data if isinstance(doc.data, dict) else {}
    section = data.get(name)
    return section if isinstance(section, dict) else None


def build_hazard(doc: Document, issues: list[PolicyIssue]) -> HazardParams | None:
    """The typed hazard parameters of a schema-valid processes.yaml; None (with issues)."""
    h = _section(doc, "hazard")
    if h is None or not isinstance(h.get("deadline"), dict):
        return None
    r = _Checks(doc, issues)
    deadline: dict[str, Any] = h["deadline"]
    deadlines = tuple((s, r.positive(deadline, ("hazard", "deadline"), s)) for s in SEVERITIES)
    severities = tuple(str(s) for s in h.get("report_severities", []))
    for i, s in enumerate(severities):
        if s not in SEVERITIES:
            r.fail(("hazard", "report_severities", i),
                   f"unknown severity {s!r}; expected one of {', '.join(SEVERITIES)}")  # fmt: skip
    report = h.get("authority_report")
    if severities and report is None:
        r.fail(("hazard",), "missing required key 'authority_report' (report_severities is set)")
    escalation = h.get("reinspection_escalation")
    to_role = str(escalation.get("to_role", "")) if isinstance(escalation, dict) else ""
    if h.get("closed_loop") and not to_role:
        r.fail(("hazard", "closed_loop"), "closed_loop needs reinspection_escalation.to_role")
    params = HazardParams(
        deadline_seconds=deadlines,
        reinspection=r.task_of(h.get("reinspection"), ("hazard", "reinspection")),
        rounds_before_authority_report=int(h.get("rounds_before_authority_report") or 1),
        report_severities=severities,
        notice_channels=tuple(str(c) for c in h.get("notice_channels", [])),
        authority_report=r.task_of(report, ("hazard", "authority_report")) if report else None,
        authority_reporting=bool(h.get("authority_reporting", False)),
        closed_loop=bool(h.get("closed_loop", False)),
        reinspection_escalation_to=to_role,
    )
    return params if r.ok else None


def build_closure(doc: Document, issues: list[PolicyIssue]) -> ClosureParams | None:
    """The typed closure parameters of a schema-valid processes.yaml; None (with issues)."""
    c = _section(doc, "closure")
    if c is None:
        return None
    r = _Checks(doc, issues)
    params = ClosureParams(
        inspection_required=bool(c.get("inspection_required", False)),
        inspection=r.task_of(c.get("inspection"), ("closure", "inspection")),
        theft_case=r.task_of(c.get("theft_case"), ("closure", "theft_case")),
        final_reading=r.task_of(c.get("final_reading"), ("closure", "final_reading")),
        settlement=r.task_of(c.get("settlement"), ("closure", "settlement")),
    )
    return params if r.ok else None


def build_callback(doc: Document, issues: list[PolicyIssue]) -> CallbackParams | None:
    """The typed call-back parameters of a schema-valid processes.yaml; None (with issues)."""
    c = _section(doc, "callback")
    if c is None:
        return None
    r = _Checks(doc, issues)
    where = ("callback",)
    period = r.positive(c, where, "period")
    escalation: dict[str, Any] = c["escalation"] if isinstance(c.get("escalation"), dict) else {}
    params = CallbackParams(
        period_seconds=period,
        jitter_seconds=_secs(c.get("jitter")),
        first_cycle_spread_seconds=_secs(c["first_cycle_spread"])
        if "first_cycle_spread" in c
        else period,
        call=r.task_of(c.get("task"), ("callback", "task")),
        retry_after_seconds=r.positive(c, where, "retry_after"),
        max_tries=int(c.get("max_tries") or 1),
        visit=r.task_of(c.get("after_max_tries"), ("callback", "after_max_tries")),
        escalation_after_seconds=r.positive(escalation, ("callback", "escalation"), "after"),
        escalation_to=str(escalation.get("to_role", "supervisor")),
    )
    return params if r.ok else None


def build_service_request(doc: Document, issues: list[PolicyIssue]) -> ServiceRequestParams | None:
    """The typed service request parameters of a schema-valid processes.yaml; None (with
    issues)."""
    c = _section(doc, "service_request")
    if c is None:
        return None
    r = _Checks(doc, issues)
    warn = c.get("warn_at")  # 0 < warn_at < 1: the schema checks it
    escalation = c.get("escalation")
    if not isinstance(escalation, dict):  # a breached request must go somewhere
        r.fail(("service_request",), "missing required key 'escalation'")
        escalation = {}
    params = ServiceRequestParams(
        response_sla_hours=int(c.get("response_sla_hours") or 1),
        warn_at=float(warn) if isinstance(warn, int | float) else 0.75,
        task=r.task_of(c.get("task"), ("service_request", "task")),
        escalation_to=str(escalation.get("to_role", "")),
    )
    return params if r.ok else None


def build_visit(doc: Document, issues: list[PolicyIssue]) -> VisitParams | None:
    """The typed key_account_visit parameters of a schema-valid processes.yaml; None (with
    issues)."""
    c = _section(doc, "key_account_visit")
    if c is None:
        return None
    r = _Checks(doc, issues)
    where = ("key_account_visit",)
    escalation: dict[str, Any] = c["escalation"] if isinstance(c.get("escalation"), dict) else {}
    params = VisitParams(
        visit_every_seconds=r.positive(c, where, "visit_every"),
        jitter_seconds=_secs(c.get("jitter")),
        task=r.task_of(c.get("task"), (*where, "task")),
        escalation_after_seconds=r.positive(escalation, (*where, "escalation"), "after"),
        escalation_to=str(escalation.get("to_role", "")),
    )
    return params if r.ok else None
