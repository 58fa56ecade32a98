"""Payloads of the arrears ladder: its typed plan, protection checks and protection signals.

One dataclass in and out per activity and signal; fields added later get defaults. The plan
mirrors `rules.arrears_params.ArrearsParams` (built at bundle load) plus the jurisdiction's
floor and the customer's facts; the workflow never reads a policy dict, so a missing key is a
policy error at load, never a KeyError at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workflows.calendar import CutoffCalendar


@dataclass
class TaskBlock:
    """A task a step opens: kind, inbox role, due time in seconds."""

    task: str
    assignee_role: str
    due_seconds: float = 0.0

    def block(self) -> dict[str, Any]:
        """The task block shape `ProcessBase._spec` reads."""
        return {"task": self.task, "assignee_role": self.assignee_role,
                "due_seconds": self.due_seconds}  # fmt: skip


@dataclass
class LadderStep:
    """A step before the disconnection phase: a message or a task, then a wait."""

    step: str
    wait_seconds: float = 0.0
    channel: str = ""
    task: TaskBlock | None = None
    eligible: str = "always"


@dataclass
class FloorTerms:
    """The jurisdiction's floor as the workflow enforces it again at run time."""

    jurisdiction: str = "cn"
    notice_min_seconds: float = 3 * 86400.0
    notice_max_seconds: float = 7 * 86400.0
    renotice_min_seconds: float = 1800.0
    reconnection_max_seconds: float = 86400.0
    never_disconnect: list[str] = field(default_factory=lambda: ["life_support"])
    approval_categories: list[str] = field(default_factory=list)
    filing_categories: list[str] = field(default_factory=list)
    respect_calendar: bool = True
    citations: dict[str, str] = field(default_factory=dict)  # rule -> "cn/rule (article)"


@dataclass
class ArrearsPlan:
    """What the ladder does, from the pinned policy version and the jurisdiction's floor."""

    active: bool
    policy_version: str
    reason: str = ""
    ladder: list[LadderStep] = field(default_factory=list)
    notice_min_seconds: float = 0.0
    notice_max_seconds: float = 0.0
    notice_lead_seconds: float = 0.0
    notice_channels: list[str] = field(default_factory=list)
    renotice_before_seconds: float = 0.0
    renotice_channels: list[str] = field(default_factory=list)
    disconnection_task: TaskBlock | None = None
    reconnection_within_seconds: float = 0.0
    reconnection: TaskBlock = field(default_factory=lambda: TaskBlock("reconnection", "inspector"))
    reconnection_escalate_to: str = "supervisor"
    notice_delivery: TaskBlock = field(
        default_factory=lambda: TaskBlock("notice_delivery", "inspector")
    )
    approval: TaskBlock = field(
        default_factory=lambda: TaskBlock("disconnection_approval", "supervisor")
    )
    approval_timeout_seconds: float = 0.0
    approval_categories: list[str] = field(default_factory=list)
    filing_categories: list[str] = field(default_factory=list)
    life_support_disconnect: bool = False
    life_support_review: TaskBlock = field(
        default_factory=lambda: TaskBlock("life_support_review", "supervisor")
    )
    respect_calendar: bool = True
    customer: dict[str, Any] = field(default_factory=dict)
    floor: FloorTerms = field(default_factory=FloorTerms)


@dataclass
class ArrearsPlanRequest:
    """The plan of a customer's ladder (policy version pinned from here on)."""

    customer_id: str


@dataclass
class ProtectionRequest:
    """Check the current truth right before an irreversible step."""

    workflow_id: str
    customer_id: str
    step: str  # disconnection_notice / prepayment_conversion / renotice / disconnection
    at: str  # workflow time, ISO-8601
    policy_version: str
    since: str = ""  # when the ladder started (payments after it count)
    cutoff: str = ""  # the planned cut-off the step commits (renotice / disconnection)
    bills: list[str] = field(default_factory=list)


@dataclass
class ProtectionReason:
    """One protection found, with the rule it applies."""

    code: str  # life_support / registration_expired / dispute / complaint / ... / calendar
    rule: str  # citation, e.g. "cn/never_disconnect (segflow protection (life-support register))"
    detail: str = ""


@dataclass
class ProtectionVerdict:
    """`proceed`, `postpone` (calendar), `hold` (a hold is open), `protected` (never cut off
    while it lasts) or `stop` (the customer is gone); recorded in the audit log."""

    decision: str
    check_id: str
    calendar: CutoffCalendar
    reasons: list[ProtectionReason] = field(default_factory=list)
    category: str = ""
    prepaid_meter: bool = False


@dataclass
class ProtectionChanged:
    """`protection_changed`: protection data of the customer changed (registration, hold,
    moratorium). A hold kind with `active` puts the ladder on hold at once; every change makes
    the ladder check the current truth again before its next irreversible step."""

    kind: str  # life_support / medical / dispute / complaint / hardship_application / ...
    active: bool = True
    reference: str = ""


@dataclass
class BillSignal:
    """`bill_overdue`: another overdue bill joins the customer's one ladder."""

    bill_id: str
    amount: float = 0.0


@dataclass
class RegistrationReviewInput:
    """Workflow `registration:{registration_id}`: review a registration before it expires."""

    registration_id: str
    customer_id: str
    kind: str
    valid_to: str  # ISO date: the certificate's last day
    review_ahead_seconds: float = 30 * 86400.0


@dataclass
class RegistrationReviewed:
    """`reviewed`: the review was decided elsewhere (API / page): renewed or ended."""

    outcome: str  # renewed / ended
    valid_to: str = ""  # the new last day when renewed


@dataclass
class ReviewDecision:
    """Activity input: apply a review decided in the review task."""

    registration_id: str
    outcome: str
    valid_to: str = ""
    actor: str = "workflow"
