"""Process transitions: start the workflows a strategy asks for, tell the others to stop.

Segment-driven processes run per customer under a business-key id (`callback:{id}`); starting
one that already runs is a no-op (USE_EXISTING), so every transition is idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.service import RPCError

from workflows.payloads import SA_CUSTOMER, SA_KIND, CallbackInput, LeaveSignal
from workflows.process_payloads import ScheduledInput, VisitInput

log = logging.getLogger(__name__)

# the scheduled-task processes (workflows/scheduled.py): workflow type = process name
SCHEDULED_PROCESSES = (
    "key_account_meeting",
    "record_verification",
    "special_inspection",
    "electrician_training",
)


@dataclass(frozen=True)
class SegmentProcess:
    """A process a segment's strategy starts and stops: its workflow type and input."""

    workflow: str
    make_input: Callable[[str], Any]


# Processes that a segment's strategy starts and stops (strategy process name -> workflow).
# Event-driven ones (arrears, hazard, closure, service requests, outage notices) start from
# CRM events instead.
SEGMENT_PROCESSES: dict[str, SegmentProcess] = {
    "callback": SegmentProcess("callback", lambda cid: CallbackInput(customer_id=cid)),
    "key_account_visit": SegmentProcess("visit", lambda cid: VisitInput(customer_id=cid)),
    **{
        name: SegmentProcess(name, lambda cid: ScheduledInput(customer_id=cid))
        for name in SCHEDULED_PROCESSES
    },
}


def workflow_id(process: str, customer_id: str) -> str:
    """The business key of a segment-driven process (`callback:C1`, `visit:C1`)."""
    return f"{SEGMENT_PROCESSES[process].workflow}:{customer_id}"


@dataclass
class Transitions:
    """What an assignment change asks of the processes."""

    start: list[tuple[str, str]] = field(default_factory=list)  # (process, customer id)
    stop: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.start or self.stop)


def diff(
    customer_id: str, before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> Transitions:
    """Segment-driven processes to start (asked for now) and stop (no longer asked for)."""
    old = {p for p in (before or {}) if p in SEGMENT_PROCESSES}
    new = {p for p in after if p in SEGMENT_PROCESSES}
    return Transitions(
        start=[(p, customer_id) for p in sorted(new)],
        stop=[(p, customer_id) for p in sorted(old - new)],
    )


async def start(client: Client, task_queue: str, process: str, customer_id: str) -> None:
    """Start (or keep) the process's workflow for the customer."""
    spec = SEGMENT_PROCESSES[process]
    await client.start_workflow(
        spec.workflow,
        spec.make_input(customer_id),
        id=workflow_id(process, customer_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(SearchAttributeKey.for_keyword(SA_CUSTOMER), customer_id),
                SearchAttributePair(SearchAttributeKey.for_keyword(SA_KIND), spec.workflow),
            ]
        ),
    )


async def stop(client: Client, process: str, customer_id: str) -> None:
    """Tell a running process that the customer left its segment (gone already: fine)."""
    try:
        await client.get_workflow_handle(workflow_id(process, customer_id)).signal(
            "leave", LeaveSignal()
        )
    except RPCError as err:
        if "not found" not in str(err).lower() and "completed" not in str(err).lower():
            raise


async def apply(
    client: Client, task_queue: str, transitions: Iterable[Transitions], concurrency: int = 32
) -> int:
    """Apply many transitions with bounded concurrency; returns the number of calls made."""
    gate = asyncio.Semaphore(concurrency)

    async def one(call: Any) -> None:
        async with gate:
            await call

    calls: list[Any] = []
    for t in transitions:
        calls += [start(client, task_queue, p, c) for p, c in t.start]
        calls += [stop(client, p, c) for p, c in t.stop]
    await asyncio.gather(*(one(c) for c in calls))
    return len(calls)
