"""Dataclass payloads shared by workflows, activities and the API (one in, one out each).

Fields added later must have defaults so running workflows keep decoding old payloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workflows.process_plans import CallbackPlan

TASK_QUEUE = "segflow"
SA_CUSTOMER = "CustomerId"
SA_KIND = "ProcessKind"
SA_STAGE = "Stage"
SA_POLICY = "PolicyVersion"
SEARCH_ATTRIBUTES = (SA_CUSTOMER, SA_KIND, SA_STAGE, SA_POLICY)  # all Keyword; no PII


@dataclass
class PlanRequest:
    """Ask for the current plan of one process for one customer."""

    customer_id: str
    process: str


@dataclass
class ProcessPlan:
    """A process's parameters as the active policy gives them (durations in seconds)."""

    active: bool
    policy_version: str
    params: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


@dataclass
class TaskSpec:
    """A human task a workflow opens (the task id is deterministic: workflow id + step)."""

    task_id: str
    workflow_id: str
    kind: str
    customer_id: str
    queue: str
    due_in_seconds: float
    title: str = ""
    assignee: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    policy_version: str | None = None


@dataclass
class TaskCompletion:
    """Update input: a person completes a task (the Update id is the task id)."""

    task_id: str
    result: dict[str, Any]
    actor: str


@dataclass
class TaskCompletionResult:
    """Update output. `result` and `actor` are the completion the workflow took: a second
    Update with the same id (the task id) gets the first one's outcome, and the caller
    compares them with its own request."""

    task_id: str
    accepted: bool
    stage: str
    result: dict[str, Any] | None = None
    actor: str = ""


@dataclass
class TaskClose:
    """Activity input: mark a task completed / cancelled / escalated in the inbox."""

    task_id: str
    status: str
    result: dict[str, Any] | None = None
    actor: str | None = None
    queue: str | None = None


@dataclass
class CancelTasks:
    """Activity input: cancel every open task of a workflow that ends."""

    workflow_id: str
    reason: str


@dataclass
class ContactUpdate:
    """Activity input: write confirmed contact details back to the customer record."""

    customer_id: str
    contacts: dict[str, Any]
    actor: str
    workflow_id: str


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
class LeaveSignal:
    """Signal input: the customer left the segment that asked for the process."""

    reason: str = "segment left"


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
class CallbackState:
    """`state` query result."""

    customer_id: str
    cycle: int
    stage: str
    policy_version: str
    tries: int
    open_tasks: list[str]
    outcomes: list[str]


@dataclass
class CancelRequest:
    """Signal input: a supervisor cancels a process (the reason is required and recorded)."""

    reason: str
    actor: str


@dataclass
class SegmentationPlan:
    """The run's policy version, population size and number of keyset batches (the batch
    bounds and cut points stay in the store; `bounds` is unused since keyset batches)."""

    policy_version: str
    total: int
    bounds: list[list[str]] = field(default_factory=list)
    batches: int = 0


@dataclass
class SegmentationBatch:
    """One batch of a run: its number `seq` (its keyset range is stored with the run)."""

    run_id: str
    policy_version: str
    lo: str = ""
    hi: str = ""
    actor: str = "segmentation"
    seq: int = -1


@dataclass
class SegmentationBatchResult:
    """What a batch did."""

    customers: int
    changed: int
    started: int
    stopped: int


@dataclass
class SegmentationProgress:
    """`progress` query result and the run's output."""

    run_id: str
    stage: str
    policy_version: str = ""
    total: int = 0
    done: int = 0
    changed: int = 0
    batches: int = 0
    batches_done: int = 0
    processes_started: int = 0
    processes_stopped: int = 0
    seconds: float = 0.0
    started_at: str = ""
    customers_per_second: float = 0.0
    eta_seconds: float | None = None
    runs: int = 1  # workflow runs so far (the run continues-as-new before its history grows)


@dataclass
class SegmentationRunInput:
    """Start of a whole-population segmentation run (and its continuation: the plan, the
    next batch and the progress so far are carried across continue-as-new)."""

    run_id: str
    requested_by: str
    batch_size: int = 5000
    parallelism: int = 2
    plan: SegmentationPlan | None = None
    next_seq: int = 0
    progress: SegmentationProgress | None = None
    batches_per_run: int = 400
