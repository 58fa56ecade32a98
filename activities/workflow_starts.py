"""Starting event-driven processes by business key, idempotently.

The same input for a running key returns the running workflow; a different input for the
same key is a conflict (the caller answers 409). Inputs are compared with the input recorded
in the run's first history event.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows.arrears_payloads import BillSignal
from workflows.attributes import SA_CUSTOMER, SA_KIND
from workflows.inputs import (
    ArrearsInput,
    ClosureInput,
    HazardInput,
    OutageInput,
    ServiceRequestInput,
)


@dataclass(frozen=True)
class Kind:
    """An event-driven process: workflow type, input class and business-key template."""

    workflow: str
    input: type[Any]
    key: str  # format string over the input's fields


KINDS: dict[str, Kind] = {
    # one ladder per customer: later overdue bills join it (`join_arrears`)
    "arrears": Kind("arrears", ArrearsInput, "arrears:{customer_id}"),
    "hazard": Kind("hazard", HazardInput, "hazard:{customer_id}:{inspection_id}"),
    "closure": Kind("closure", ClosureInput, "closure:{customer_id}"),
    "service_request": Kind(
        "service_request", ServiceRequestInput, "service_request:{customer_id}:{request_id}"
    ),
    "outage": Kind("outage", OutageInput, "outage:{feeder_id}:{outage_id}"),
}


class InputConflict(Exception):
    """The business key runs with a different input."""

    def __init__(self, workflow_id: str, running: Any) -> None:
        super().__init__(f"{workflow_id} is running with a different input")
        self.workflow_id, self.running = workflow_id, running


@dataclass(frozen=True)
class Started:
    """Outcome of a start."""

    workflow_id: str
    run_id: str


async def start(client: Client, task_queue: str, kind: str, inp: Any) -> Started:
    """Start `kind` with `inp` unless its business key already runs (same input)."""
    spec = KINDS[kind]
    fields = dataclasses.asdict(inp)
    wid = spec.key.format(**fields)
    attrs = [SearchAttributePair(SearchAttributeKey.for_keyword(SA_KIND), kind)]
    if fields.get("customer_id"):
        attrs.append(
            SearchAttributePair(SearchAttributeKey.for_keyword(SA_CUSTOMER), fields["customer_id"])
        )
    try:
        handle = await client.start_workflow(
            spec.workflow,
            inp,
            id=wid,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=TypedSearchAttributes(attrs),
        )
        return Started(wid, handle.result_run_id or "")
    except WorkflowAlreadyStartedError as err:
        # the key runs already: the same input is the same request, another is a conflict
        run_id = err.run_id or ""
    running = await _recorded_input(client, wid, run_id)
    if running is not None and _normal(running) != _normal(fields):
        raise InputConflict(wid, running)
    return Started(wid, run_id)


async def join_arrears(client: Client, task_queue: str, inp: ArrearsInput) -> Started:
    """Start the customer's arrears ladder with this bill, or add the bill to the running one
    (signal-with-start: one ladder per customer takes every overdue bill)."""
    wid = KINDS["arrears"].key.format(customer_id=inp.customer_id)
    attrs = [
        SearchAttributePair(SearchAttributeKey.for_keyword(SA_KIND), "arrears"),
        SearchAttributePair(SearchAttributeKey.for_keyword(SA_CUSTOMER), inp.customer_id),
    ]
    handle = await client.start_workflow(
        KINDS["arrears"].workflow,
        inp,
        id=wid,
        task_queue=task_queue,
        start_signal="bill_overdue",
        start_signal_args=[BillSignal(inp.bill_id, inp.amount)],
        search_attributes=TypedSearchAttributes(attrs),
    )
    return Started(wid, handle.result_run_id or "")


def _normal(fields: dict[str, Any]) -> dict[str, Any]:
    # the policy version is filled in by the workflow, not by the caller
    return {k: v for k, v in fields.items() if k != "policy_version"}


async def _recorded_input(client: Client, workflow_id: str, run_id: str) -> Any:
    handle = client.get_workflow_handle(workflow_id, run_id=run_id or None)
    async for event in handle.fetch_history_events():
        attrs = event.workflow_execution_started_event_attributes
        values = client.data_converter.payload_converter.from_payloads(list(attrs.input.payloads))
        return values[0] if values else None
    return None
