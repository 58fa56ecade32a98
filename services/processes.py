"""Segment-driven process transitions applied straight to a Temporal client.

For sandboxes only (the simulator's time-skipping server, which has no store outbox): the
service itself queues transitions in the outbox (services/outbox.py) and the relay applies
them. Kinds, ids and inputs come from the process catalogue.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from services import outbox
from workflows.attributes import SA_CUSTOMER, SA_KIND
from workflows.catalogue import BY_STRATEGY
from workflows.signals import LeaveSignal


@dataclass
class Transitions:
    """What an assignment change asks of the processes: (strategy process, customer id)."""

    start: list[tuple[str, str]] = field(default_factory=list)
    stop: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.start or self.stop)


def workflow_id(process: str, customer_id: str) -> str:
    """The business key of a segment-driven process (`callback:C1`, `visit:C1`)."""
    return BY_STRATEGY[process].id_template.format(customer_id=customer_id)


def diff(
    customer_id: str, before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> Transitions:
    """Processes to start and to stop (services/outbox.py's rule)."""
    change = outbox.diff(customer_id, before, after)
    return Transitions([(p, customer_id) for p in change.start],
                       [(p, customer_id) for p in change.stop])  # fmt: skip


async def start(client: Client, task_queue: str, process: str, customer_id: str) -> None:
    """Start (or keep) the process's workflow for the customer."""
    proc = BY_STRATEGY[process]
    inp = dataclasses.asdict(proc.input(customer_id=customer_id))
    await client.start_workflow(
        proc.kind,
        inp,
        id=workflow_id(process, customer_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes([
            SearchAttributePair(SearchAttributeKey.for_keyword(SA_CUSTOMER), customer_id),
            SearchAttributePair(SearchAttributeKey.for_keyword(SA_KIND), proc.kind),
        ]),
    )  # fmt: skip


async def stop(client: Client, process: str, customer_id: str) -> None:
    """Tell a running process that the customer left its segment (gone already: fine)."""
    try:
        handle = client.get_workflow_handle(workflow_id(process, customer_id))
        await handle.signal(BY_STRATEGY[process].stop_signal or "leave", LeaveSignal())
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
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
