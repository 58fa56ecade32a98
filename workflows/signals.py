"""Signal payloads: one-way messages to a running process.

`cancel` (CancelSignal) is the one payload with which a person (the API's cancel) or another
process (a closing account) stops any process; `leave` (LeaveSignal) stops a segment-driven
process when its customer leaves the segment. The others carry CRM events to the process that waits
for them. The arrears ladder's own signals (a new bill, a protection change, a decided
registration review) live with its plan in workflows/arrears_payloads.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CancelSignal:
    """`cancel`: a supervisor (or a closing account) stops the process; every open task is
    cancelled and the reason recorded."""

    reason: str
    actor: str = "supervisor"


@dataclass
class LeaveSignal:
    """`leave`: the customer left the segment that asked for the process."""

    reason: str = "segment left"


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
