"""Typed plans of the event-driven processes (the arrears ladder has its own module).

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
    """Where an overdue task goes."""

    to_role: str = "supervisor"


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


# what `load_plan` answers for a process with a typed plan
TypedPlan = HazardPlan | ClosurePlan
