"""Payloads of the event-driven processes, their signals and the channel adapters.

One dataclass in and out per workflow, signal, update and activity. Fields added later must
have defaults so running workflows keep decoding old payloads. Times crossing the activity
boundary are ISO-8601 strings of workflow time (`workflow.now()`), so records written by
activities carry the process's own clock (which the time-skipping tests move).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# ---- signals shared by several processes -------------------------------------------------


@dataclass
class CancelSignal:
    """`cancel`: a supervisor stops the process (every open task is cancelled)."""

    reason: str
    actor: str = "supervisor"


@dataclass
class PaymentSignal:
    """`payment`: money received for the bill (settled in full when `settled` or remaining<=0)."""

    amount: float
    settled: bool = False
    remaining: float | None = None
    payment_id: str = ""

    @property
    def settles(self) -> bool:
        """Whether this payment settles the arrears in full."""
        return self.settled or (self.remaining is not None and self.remaining <= 0)


@dataclass
class PaymentPlanSignal:
    """`payment_plan`: an instalment agreement; the ladder pauses."""

    instalments: int = 0
    note: str = ""


@dataclass
class InstalmentMissedSignal:
    """`instalment_missed`: the plan failed; the ladder resumes where it paused."""

    note: str = ""


@dataclass
class RectificationSignal:
    """`rectification_reported`: the customer says the hazards are fixed."""

    hazard_ids: list[str] = field(default_factory=list)  # empty: all open hazards
    note: str = ""


@dataclass
class CaseSettledSignal:
    """`case_settled`: the theft / tampering case is settled (back-billing paid)."""

    case_id: str = ""
    amount_paid: float = 0.0
    note: str = ""


# ---- workflow inputs and `state` query results ------------------------------------------


@dataclass
class ArrearsInput:
    """Workflow `arrears:{customer_id}:{bill_id}`."""

    customer_id: str
    bill_id: str
    amount: float = 0.0
    policy_version: str = ""


@dataclass
class Hazard:
    """One inspection finding."""

    hazard_id: str
    description: str
    severity: str  # general / serious / critical


@dataclass
class HazardInput:
    """Workflow `hazard:{customer_id}:{inspection_id}`."""

    customer_id: str
    inspection_id: str
    hazards: list[Hazard] = field(default_factory=list)
    policy_version: str = ""


@dataclass
class ClosureInput:
    """Workflow `closure:{customer_id}`."""

    customer_id: str
    request_id: str = ""
    policy_version: str = ""


@dataclass
class VisitInput:
    """Workflow `visit:{customer_id}` (one cycle per run, continue-as-new)."""

    customer_id: str
    cycle: int = 0
    policy_version: str = ""
    first_delay_seconds: float = 0.0


@dataclass
class ServiceRequestInput:
    """Workflow `service_request:{customer_id}:{request_id}`."""

    customer_id: str
    request_id: str
    subject: str = ""  # a category, not free text with personal data
    policy_version: str = ""


@dataclass
class OutageInput:
    """Workflow `outage:{feeder_id}:{outage_id}` (times: ISO-8601 with offset)."""

    feeder_id: str
    outage_id: str
    starts_at: str
    ends_at: str
    reason: str = "planned maintenance"


@dataclass
class ProcessState:
    """`state` query result of every event-driven process."""

    workflow_id: str
    kind: str
    stage: str
    policy_version: str
    customer_id: str = ""
    open_tasks: list[str] = field(default_factory=list)
    history: list[str] = field(default_factory=list)  # step names in order
    facts: dict[str, Any] = field(default_factory=dict)  # process-specific figures


@dataclass
class ProcessResult:
    """Workflow output: the end state and its figures."""

    outcome: str
    stage: str
    policy_version: str
    facts: dict[str, Any] = field(default_factory=dict)


# ---- activities -------------------------------------------------------------------------


@dataclass
class ProcessParamsRequest:
    """Parameters of a process not tied to one customer (outage campaigns)."""

    process: str
    policy_version: str = ""  # empty: the active version


@dataclass
class CalendarRequest:
    """The disconnection calendar of a pinned policy version."""

    policy_version: str


@dataclass
class NoticeRequest:
    """Send one message over the customer's channels (idempotent by workflow + step)."""

    workflow_id: str
    step: str
    customer_id: str
    channels: list[str]
    template: str
    at: str  # workflow time
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class NoticeResult:
    """Which channels confirmed delivery."""

    delivered: bool
    delivered_channels: list[str] = field(default_factory=list)
    failed_channels: list[str] = field(default_factory=list)


@dataclass
class ExternalRequest:
    """A request to an external system: meter head-end, power authority, CRM, billing."""

    workflow_id: str
    step: str
    customer_id: str
    adapter: str  # meter_head_end / power_authority / crm
    action: str
    at: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExternalResult:
    """Acknowledgement of an external request."""

    accepted: bool
    reference: str


@dataclass
class CaseRecord:
    """Open, settle or cancel a theft / tampering case (cases table)."""

    case_id: str
    customer_id: str
    workflow_id: str
    kind: str = "theft"
    status: str = "open"
    evidence: str = ""
    back_billing: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Settlement:
    """Final settlement of a closing account (arrears, deposit, back-billing)."""

    customer_id: str
    workflow_id: str
    final_reading_kwh: float = 0.0
    arrears: float = 0.0
    deposit: float = 0.0
    back_billing: float = 0.0
    balance: float = 0.0  # > 0: the customer owes; < 0: refund


@dataclass
class AccountClosure:
    """Close the account and end the customer's other processes."""

    customer_id: str
    workflow_id: str
    reason: str = "account closed"


@dataclass
class AccountClosureResult:
    """What closing the account did."""

    closed: bool
    ended_workflows: list[str] = field(default_factory=list)


@dataclass
class FeederRequest:
    """Customers on a feeder with their outage-notice parameters."""

    feeder_id: str


@dataclass
class FeederCustomer:
    """One customer on the feeder (no names or contact details)."""

    customer_id: str
    category: str
    sensitive: bool
    channels: list[str]
    lead_seconds: float
    pre_negotiation: bool
    satisfaction_callback: bool
    outage_count_12m: int = 0
    outage_minutes_12m: float = 0.0


@dataclass
class FeederCustomers:
    """Activity output: outage-sensitive customers first."""

    customers: list[FeederCustomer] = field(default_factory=list)


@dataclass
class ScheduledInput:
    """Workflows `{process}:{customer_id}` of the scheduled-task processes (one cycle per
    run, continue-as-new): key-account meeting, record verification, special inspection,
    electrician training."""

    customer_id: str
    cycle: int = 0
    policy_version: str = ""
    first_delay_seconds: float = 0.0


@dataclass
class CustomerFeedback:
    """What a process learnt about one customer: counters to add to (never below 0) and
    segflow-owned fields to set (rules/ownership.py)."""

    customer_id: str
    deltas: dict[str, float] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class FeedbackUpdate:
    """Activity input of `apply_feedback`: applied once per workflow id + step."""

    workflow_id: str
    step: str
    updates: list[CustomerFeedback] = field(default_factory=list)
