"""What processes answer: `state` query results and workflow results (end states)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
