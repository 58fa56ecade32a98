"""Workflow inputs: one dataclass per workflow type (its id template in the docstring).

The process catalogue (workflows/catalogue.py) names each input type once; starters, the
outbox and the relay build inputs from it. Fields added later get defaults, so histories
recorded with older inputs replay. The registration review's input lives with the arrears
ladder's protections (workflows/arrears_payloads.py), the population run's with its batches
(workflows/segmentation_payloads.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.process_plans import CallbackPlan


@dataclass
class CallbackInput:
    """Call-back workflow input (carried across continue-as-new).

    `plan` is the customer's plan handed in by the starter (first cycle) or read by the
    previous cycle at its end; without one the first cycle reads it. The first cycle waits a
    stable share (hash of the customer id) of `first_cycle_spread`; a later cycle waits
    `first_delay_seconds`, the period the previous cycle drew."""

    customer_id: str
    cycle: int = 0
    policy_version: str = ""
    first_delay_seconds: float = 0.0
    plan: CallbackPlan | None = None  # decodes the parameter dict of older histories too


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
class ScheduledInput:
    """Workflows `{process}:{customer_id}` of the scheduled-task processes (one cycle per
    run, continue-as-new): key-account meeting, record verification, special inspection,
    electrician training."""

    customer_id: str
    cycle: int = 0
    policy_version: str = ""
    first_delay_seconds: float = 0.0
