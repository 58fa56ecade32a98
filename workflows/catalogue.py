"""The process catalogue: every process kind named once.

Each entry says which workflow class runs the kind, its input dataclass, the business-key
template of its workflow id, what starts it (a segment's strategy, a CRM event, the API or a
schedule), how it stops, its task queue and the search attributes it is started with. The
worker registers the workflows listed here; starts, stops, workflow ids and the event router
read the same entries (tests/test_catalogue.py fails when a kind is declared elsewhere only).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from workflows.arrears import ArrearsWorkflow
from workflows.arrears_payloads import RegistrationReviewInput
from workflows.attributes import SA_CUSTOMER, SA_KIND
from workflows.callback import CallbackWorkflow
from workflows.closure import ClosureWorkflow
from workflows.hazard import HazardWorkflow
from workflows.inputs import (
    ArrearsInput,
    CallbackInput,
    ClosureInput,
    HazardInput,
    OutageInput,
    ScheduledInput,
    ServiceRequestInput,
    VisitInput,
)
from workflows.key_account import ServiceRequestWorkflow, VisitWorkflow
from workflows.outage import OutageWorkflow
from workflows.registration import RegistrationReviewWorkflow
from workflows.scheduled import (
    ElectricianTrainingWorkflow,
    KeyAccountMeetingWorkflow,
    RecordVerificationWorkflow,
    SpecialInspectionWorkflow,
)
from workflows.segmentation import SegmentationRunWorkflow
from workflows.segmentation_payloads import SegmentationRunInput

Trigger = Literal["segment", "event", "api"]


@dataclass(frozen=True)
class Process:
    """One process kind."""

    kind: str  # the workflow type name, also the ProcessKind search attribute
    workflow: type[Any]
    input: type[Any]
    id_template: str  # str.format over the input's fields
    trigger: Trigger
    stops: str  # how it ends, for people (README, the catalogue test)
    # segment-started kinds: the strategy's process name (processes: in strategies.yaml),
    # and the signal that tells a running one its customer left the segment
    strategy_process: str | None = None
    stop_signal: str | None = None
    # CRM event types that start the kind
    events: tuple[str, ...] = ()
    # "use_existing": a running key is the same process (segment-driven, idempotent);
    # "compare": a running key must have been started with the same input, else a conflict;
    # "join": start, or hand the running one `join_signal` (signal-with-start)
    on_running: Literal["use_existing", "compare", "join"] = "compare"
    join_signal: str | None = None
    queue: Literal["control", "processes"] = "processes"  # which of the worker's task queues
    search_attributes: tuple[str, ...] = (SA_CUSTOMER, SA_KIND)

    def workflow_id(self, inp: Any) -> str:
        """The business key of `inp` (a dataclass of `input` or its field dict)."""
        fields = inp if isinstance(inp, dict) else dataclasses.asdict(inp)
        return self.id_template.format(**fields)


CATALOGUE: tuple[Process, ...] = (
    Process("callback", CallbackWorkflow, CallbackInput, "callback:{customer_id}", "segment",
            "leave signal or the strategy stops asking at a cycle boundary",
            strategy_process="callback", stop_signal="leave", on_running="use_existing"),
    Process("visit", VisitWorkflow, VisitInput, "visit:{customer_id}", "segment",
            "leave signal or the strategy stops asking at a cycle boundary",
            strategy_process="key_account_visit", stop_signal="leave",
            on_running="use_existing"),
    # one ladder per customer: a later overdue bill joins the running one (signal-with-start)
    Process("arrears", ArrearsWorkflow, ArrearsInput, "arrears:{customer_id}", "event",
            "settled, reconnected or cancelled", events=("bill_overdue",), on_running="join",
            join_signal="bill_overdue"),
    Process("hazard", HazardWorkflow, HazardInput, "hazard:{customer_id}:{inspection_id}",
            "event", "every hazard verified fixed, or cancelled",
            events=("inspection_findings",)),
    Process("closure", ClosureWorkflow, ClosureInput, "closure:{customer_id}", "event",
            "account closed, or cancelled", events=("closure_requested",)),
    Process("service_request", ServiceRequestWorkflow, ServiceRequestInput,
            "service_request:{customer_id}:{request_id}", "event", "answered, or cancelled",
            events=("service_request",)),
    Process("outage", OutageWorkflow, OutageInput, "outage:{feeder_id}:{outage_id}", "event",
            "after the outage and its satisfaction call-backs", events=("planned_outage",),
            search_attributes=(SA_KIND,)),
    *(
        Process(name, cls, ScheduledInput, name + ":{customer_id}", "segment",
                "leave signal or the strategy stops asking at a cycle boundary",
                strategy_process=name, stop_signal="leave", on_running="use_existing")
        for name, cls in (
            ("key_account_meeting", KeyAccountMeetingWorkflow),
            ("record_verification", RecordVerificationWorkflow),
            ("special_inspection", SpecialInspectionWorkflow),
            ("electrician_training", ElectricianTrainingWorkflow),
        )
    ),
    Process("registration_review", RegistrationReviewWorkflow, RegistrationReviewInput,
            "registration:{registration_id}", "api",
            "the registration reviewed (signal `reviewed`) or lapsed",
            on_running="use_existing", search_attributes=()),
    Process("segmentation_run", SegmentationRunWorkflow, SegmentationRunInput,
            "segmentation:{run_id}", "api", "every batch done", search_attributes=(),
            queue="control"),
)  # fmt: skip

BY_KIND: dict[str, Process] = {p.kind: p for p in CATALOGUE}
BY_STRATEGY: dict[str, Process] = {
    p.strategy_process: p for p in CATALOGUE if p.strategy_process is not None
}
BY_EVENT: dict[str, Process] = {e: p for p in CATALOGUE for e in p.events}


def key(kind: str, **fields: Any) -> str:
    """The business key (workflow id) of a `kind` process from its id template's fields."""
    return BY_KIND[kind].id_template.format(**fields)


def workflows(queue: str | None = None) -> list[type[Any]]:
    """The workflow classes of one queue (control, processes), or all, for the worker."""
    return [p.workflow for p in CATALOGUE if queue in (None, p.queue)]
