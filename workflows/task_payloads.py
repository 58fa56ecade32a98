"""Human tasks: what a workflow opens, the Update that completes it, and how it closes.

A task's id is deterministic (workflow id + step), the `complete_task` Update's id is the
task id, so a retried completion gets the first one's outcome. The inbox row in the store is
the projection of these messages (activities/inbox.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
