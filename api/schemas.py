"""Request and response models of the API (separate from the store's models)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from store.models import Task
from workflows.task_kinds import schema_for


class AssignmentOut(BaseModel):
    """A customer's segments and merged service actions."""

    customer_id: str
    category: str = Field(description="Level-1 category (national standard).")
    abc_class: str = Field(description="ABC value class: A, B or C.")
    tags: list[str] = Field(description="Level-2 tags, sorted.")
    points_tier: str = Field(description="Points tier (standard, silver, gold, platinum).")
    actions: dict[str, Any] = Field(description="Merged service action parameters.")
    processes: dict[str, Any] = Field(description="Processes the strategy runs, with parameters.")
    policy_version: str = Field(description="Content hash of the policy that decided this.")


class TransitionOut(BaseModel):
    """A process transition queued in the outbox: the relay applies it to Temporal after the
    answer (`pending`), then records `done`, `skipped` (the workflow was not running) or
    `failed` (e.g. the business key runs with another input; audited)."""

    transition_id: str = Field(description="Sent with the Temporal call (deduplication).")
    op: str = Field(description="start, signal or stop.")
    kind: str = Field(description="Process kind (workflow type).")
    workflow_id: str = Field(description="Business key, e.g. callback:C000123.")
    signal: str | None = Field(default=None, description="Signal name (signal and stop).")
    status: str = Field(description="pending, done, skipped or failed.")
    attempts: int | None = Field(default=None, description="Temporal calls tried so far.")
    last_error: str | None = Field(default=None, description="Why the last attempt failed.")


class UpsertOut(AssignmentOut):
    """The new assignment and the process transitions the upsert queued."""

    transitions: list[TransitionOut] = Field(
        default_factory=list,
        description="Queued with the record (pending); applied to Temporal by the relay.",
    )


class CustomerOut(BaseModel):
    """A stored customer with its assignment and explanation."""

    record: dict[str, Any]
    status: str = Field(description="active or closed.")
    assignment: AssignmentOut | None
    explanation: dict[str, Any] | None = Field(
        description="Per segment and action: rule id, condition, actual values, policy version."
    )
    pending_transitions: list[TransitionOut] = Field(
        default_factory=list,
        description="Process transitions stored for this customer that the outbox relay has "
        "not applied to Temporal yet, in the order they will be applied.",
    )


class TaskOut(BaseModel):
    """A human task in an inbox."""

    task_id: str
    workflow_id: str
    kind: str
    title: str
    customer_id: str
    queue: str = Field(description="Role queue the task belongs to.")
    assignee: str | None = Field(description="Principal who holds the task, if claimed.")
    status: str = Field(description="open, claimed, completed or cancelled.")
    due_at: datetime
    overdue: bool
    context: dict[str, Any]
    result: dict[str, Any] | None
    completed_by: str | None
    completed_at: datetime | None
    policy_version: str | None
    priority: int = Field(
        default=0,
        description="Inbox rank from the customer's strategy (priority routing, green channel, "
        "fast lane); higher first within overdue / not overdue.",
    )
    completion_schema: dict[str, Any] = Field(
        description="JSON Schema (draft 2020-12) of the completion `result`, derived from the "
        "kind's completion model; `allOf` if/then lists the fields an outcome requires."
    )


class TaskCompleteIn(BaseModel):
    """Completion of a task: the payload must match the kind's completion model."""

    result: dict[str, Any] = Field(
        description="Completion payload, validated by the task kind's completion model (strict "
        "types, no unknown keys, no null, no NaN or Infinity; its JSON Schema is the task's "
        "`completion_schema`). The workflow receives it as sent.",
        examples=[{"outcome": "verified", "note": "contact confirmed"}],
    )


class TaskCompleteOut(BaseModel):
    """The outcome of a completion (an identical retry returns the same body)."""

    task: TaskOut
    workflow_stage: str = Field(description="The workflow's stage after taking the completion.")


class BatchItem(BaseModel):
    """The outcome of one record of a batch."""

    index: int = Field(description="Position in the request.")
    customer_id: str | None
    ok: bool
    errors: list[dict[str, Any]] = Field(default_factory=list, description="path + message.")
    assignment: AssignmentOut | None = None


class BatchOut(BaseModel):
    """A batch upsert's outcome."""

    received: int
    stored: int
    failed: int
    results: list[BatchItem]
    transitions: list[TransitionOut] = Field(
        default_factory=list,
        description="Process transitions queued with the records (pending; the relay applies "
        "them to Temporal after the answer).",
    )


class CustomerSummary(BaseModel):
    """A customer in a list."""

    customer_id: str
    feeder_id: str | None
    status: str
    assignment: AssignmentOut | None


class CustomerPage(BaseModel):
    """One page of customers."""

    items: list[CustomerSummary]
    next: str | None = Field(description="Pass as `after` for the next page; null at the end.")


def task_out(task: Task) -> TaskOut:
    """API (and page) form of a task row."""
    due = task.due_at if task.due_at.tzinfo else task.due_at.replace(tzinfo=UTC)
    return TaskOut(
        task_id=task.task_id,
        workflow_id=task.workflow_id,
        kind=task.kind,
        title=task.title,
        customer_id=task.customer_id,
        queue=task.queue,
        assignee=task.assignee,
        status=task.status,
        due_at=due,
        overdue=task.status in ("open", "claimed") and due < datetime.now(UTC),
        context=task.context,
        result=task.result,
        completed_by=task.completed_by,
        completed_at=task.completed_at,
        policy_version=task.policy_version,
        priority=task.priority or 0,
        completion_schema=schema_for(task.kind),
    )
