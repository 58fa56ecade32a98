"""Typed plans of the processes (the arrears ladder has its own module).

Each mirrors a `rules.process_params` dataclass (built when the bundle loads) with the
customer's strategy switches applied; the workflow reads attributes, never a policy dict, so
a bad value is a policy error at load, not a KeyError in a running workflow.

Wire format: `load_plan` used to return these processes' parameters as a dict (with a
`<key>_seconds` twin of each duration). The field names here are that dict's keys, so a plan
recorded in an older history decodes into the typed plan (unknown keys are ignored) and the
recorded histories replay unchanged. Every field has a default: an inactive plan has no
parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workflows.arrears_payloads import TaskBlock


@dataclass
class Deadlines:
    """The rectification deadline per hazard severity, in seconds."""

    general_seconds: float = 0.0
    serious_seconds: float = 0.0
    critical_seconds: float = 0.0

    def of(self, severity: str) -> float:
        """The deadline of `severity` (an unknown one gets the general deadline)."""
        return float(getattr(self, f"{severity}_seconds", self.general_seconds))


@dataclass
class Escalation:
    """Where an overdue task goes (and, where the process times it, after how long)."""

    to_role: str = "supervisor"
    after_seconds: float = 0.0


@dataclass
class CallTask:
    """A task block named by `kind` (the call-back's call), due time in seconds."""

    kind: str = "callback_call"
    assignee_role: str = "agent"
    due_seconds: float = 0.0

    def block(self) -> dict[str, Any]:
        """The task block shape `ProcessBase._spec` reads."""
        return {"kind": self.kind, "assignee_role": self.assignee_role,
                "due_seconds": self.due_seconds}  # fmt: skip


@dataclass
class CallbackTerms:
    """The call-back's parameters (see `rules.process_params.CallbackParams`)."""

    period_seconds: float = 0.0
    every_seconds: float = 0.0  # plans recorded before typing: the strategy's period
    jitter_seconds: float = 0.0
    first_cycle_spread_seconds: float | None = None  # None: the period
    task: CallTask = field(default_factory=CallTask)
    retry_after_seconds: float = 0.0
    max_tries: int = 1
    after_max_tries: TaskBlock = field(default_factory=lambda: TaskBlock("onsite_visit", "agent"))
    escalation: Escalation | None = None

    def period(self) -> float:
        """The cycle period (the strategy's `every` is folded into it by the plan's builder)."""
        return self.every_seconds or self.period_seconds

    def spread(self) -> float:
        """The window the first cycle's wait is spread over."""
        if self.first_cycle_spread_seconds is None:
            return self.period_seconds
        return self.first_cycle_spread_seconds


@dataclass
class CallbackPlan:
    """`load_plan`'s (and `callback_finish`'s) answer for the call-back."""

    active: bool
    policy_version: str
    params: CallbackTerms = field(default_factory=CallbackTerms)
    reason: str = ""


@dataclass
class HazardTerms:
    """The hazard process's parameters (see `rules.process_params.HazardParams`)."""

    deadline: Deadlines = field(default_factory=Deadlines)
    reinspection: TaskBlock = field(default_factory=lambda: TaskBlock("reinspection", "inspector"))
    rounds_before_authority_report: int = 1
    report_severities: list[str] = field(default_factory=list)
    notice_channels: list[str] = field(default_factory=list)
    authority_report: TaskBlock | None = None
    authority_reporting: bool = False
    closed_loop: bool = False
    reinspection_escalation: Escalation | None = None
    customer: dict[str, Any] = field(default_factory=dict)  # facts the process branches on


@dataclass
class HazardPlan:
    """`load_plan`'s answer for the hazard process."""

    active: bool
    policy_version: str
    params: HazardTerms = field(default_factory=HazardTerms)
    reason: str = ""


@dataclass
class ClosureTerms:
    """The closure process's parameters (see `rules.process_params.ClosureParams`)."""

    inspection_required: bool = False
    inspection: TaskBlock = field(
        default_factory=lambda: TaskBlock("closure_inspection", "inspector")
    )
    theft_case: TaskBlock = field(default_factory=lambda: TaskBlock("theft_case", "inspector"))
    final_reading: TaskBlock = field(
        default_factory=lambda: TaskBlock("final_meter_reading", "inspector")
    )
    settlement: TaskBlock = field(default_factory=lambda: TaskBlock("closure_settlement", "agent"))


@dataclass
class ClosurePlan:
    """`load_plan`'s answer for the closure process."""

    active: bool
    policy_version: str
    params: ClosureTerms = field(default_factory=ClosureTerms)
    reason: str = ""


@dataclass
class ServiceRequestTerms:
    """The service request's parameters (see `rules.process_params.ServiceRequestParams`)."""

    response_sla_hours: int = 72
    warn_at: float = 0.75
    task: CallTask = field(default_factory=lambda: CallTask("service_request", "agent"))
    escalation: Escalation = field(default_factory=Escalation)
    customer: dict[str, Any] = field(default_factory=dict)  # facts the process branches on


@dataclass
class ServiceRequestPlan:
    """`load_plan`'s answer for the service request."""

    active: bool
    policy_version: str
    params: ServiceRequestTerms = field(default_factory=ServiceRequestTerms)
    reason: str = ""


@dataclass
class VisitTerms:
    """The key-account visit's parameters (see `rules.process_params.VisitParams`)."""

    visit_every_seconds: float = 0.0
    jitter_seconds: float = 0.0
    task: CallTask = field(default_factory=lambda: CallTask("key_account_visit", "agent"))
    escalation: Escalation | None = None
    customer: dict[str, Any] = field(default_factory=dict)  # facts the process branches on


@dataclass
class VisitPlan:
    """`load_plan`'s answer for the key-account visit."""

    active: bool
    policy_version: str
    params: VisitTerms = field(default_factory=VisitTerms)
    reason: str = ""


@dataclass
class ScheduledTerms:
    """A scheduled-task process's parameters (see `rules.scheduled_params`)."""

    period_seconds: float = 0.0
    jitter_seconds: float = 0.0
    notice_channels: list[str] = field(default_factory=list)
    task: CallTask = field(default_factory=CallTask)
    escalation: Escalation | None = None
    customer: dict[str, Any] = field(default_factory=dict)  # facts the process branches on


@dataclass
class ScheduledPlan:
    """`load_plan`'s answer for a scheduled-task process."""

    active: bool
    policy_version: str
    params: ScheduledTerms = field(default_factory=ScheduledTerms)
    reason: str = ""


@dataclass
class OutageTask(CallTask):
    """A task of the outage campaign: named by `kind`, due time in seconds."""

    kind: str = "outage_pre_negotiation"


@dataclass
class Negotiation:
    """Pre-negotiation of the outage: one task per customer who asks for it."""

    task: OutageTask = field(default_factory=OutageTask)


@dataclass
class SatisfactionCall:
    """The satisfaction call-back: `after_seconds` after the outage ends, one task each."""

    after_seconds: float = 0.0
    task: OutageTask = field(
        default_factory=lambda: OutageTask("outage_satisfaction_callback", "agent")
    )


@dataclass
class OutageTerms:
    """The campaign's policy defaults (see `rules.outage_params.OutageParams`); each
    customer's own channels, lead and switches reach the workflow with the feeder's list."""

    lead_seconds: float = 0.0
    channels: list[str] = field(default_factory=list)
    pre_negotiation_required: bool = False
    pre_negotiation: Negotiation | None = None
    satisfaction_callback_required: bool = False
    satisfaction_callback: SatisfactionCall | None = None


@dataclass
class OutagePlan:
    """`load_process_params`'s answer for the outage campaign."""

    active: bool
    policy_version: str
    params: OutageTerms = field(default_factory=OutageTerms)
    reason: str = ""


@dataclass
class OneTask:
    """The task of a one-task process. The policy names it by `kind` or by `task` (plans
    recorded before typing carry the key the policy used); `block()` names it by the one set."""

    kind: str = ""
    task: str = ""
    assignee_role: str = "agent"
    due_seconds: float = 0.0

    def block(self) -> dict[str, Any]:
        """The task block shape `ProcessBase._spec` reads."""
        return {"kind": self.kind or self.task, "assignee_role": self.assignee_role,
                "due_seconds": self.due_seconds}  # fmt: skip


@dataclass
class OneTaskTerms:
    """A one-task process's parameters (see `rules.outage_params.TaskParams`)."""

    task: OneTask = field(default_factory=OneTask)


@dataclass
class OneTaskPlan:
    """`load_process_params`'s answer for outage_plan_review and service_follow_up."""

    active: bool
    policy_version: str
    params: OneTaskTerms = field(default_factory=OneTaskTerms)
    reason: str = ""


# what `load_plan` answers for a process with a typed plan
TypedPlan = HazardPlan | ClosurePlan | CallbackPlan | ServiceRequestPlan | VisitPlan | ScheduledPlan
# what `load_process_params` answers (processes that are not about one customer)
PolicyPlan = OutagePlan | OneTaskPlan
