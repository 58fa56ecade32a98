"""Activity requests and results: what a workflow asks of the store and of the adapters.

One dataclass in and out per activity; each request carries the key (workflow id + step,
case id) that makes a retry harmless. Times crossing the activity boundary are ISO-8601
strings of workflow time (`workflow.now()`), so records written by activities carry the
process's own clock (which the time-skipping tests move). Plans (what `load_plan` and
`load_process_params` answer) are in workflows/process_plans.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PlanRequest:
    """Ask for the current plan of one process for one customer."""

    customer_id: str
    process: str


@dataclass
class ProcessParamsRequest:
    """The typed plan of a process not tied to one customer (the outage campaign, the one-task
    processes it and the service request open)."""

    process: str
    policy_version: str = ""  # empty: the active version


@dataclass
class CalendarRequest:
    """The disconnection calendar of a pinned policy version."""

    policy_version: str


@dataclass
class StepRecord:
    """Activity input: one process step for the audit log."""

    workflow_id: str
    customer_id: str
    step: str
    actor: str = "workflow"
    policy_version: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class ContactUpdate:
    """Activity input: write confirmed contact details back to the customer record."""

    customer_id: str
    contacts: dict[str, Any]
    actor: str
    workflow_id: str


@dataclass
class CallbackFinish:
    """Local activity input: a call or visit task was completed (or a cycle ends): close the
    inbox row, write confirmed contacts back, and (`read_plan`) read the next cycle's plan."""

    workflow_id: str
    customer_id: str
    task_id: str = ""
    result: dict[str, Any] | None = None
    actor: str | None = None
    read_plan: bool = False


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
