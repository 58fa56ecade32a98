"""Population runs on a schedule and after a policy activation (control work of the worker).

The active policy's `population_run` section (processes.yaml: cron `schedule`, `timezone`,
`batch_size`, `parallelism`, `after_activation`) is kept as ONE Temporal Schedule,
`segmentation-scheduled`, that starts `segmentation_run` on the control queue (overlapping
runs are skipped). A follower in each control worker reads the active version every
`policy_poll_seconds`; when it changes, the schedule is brought in line and, with
`after_activation`, a run starts under a business key of the activation, so several control
workers start it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

import rules
from activities import policy_store
from workflows.segmentation_payloads import SegmentationRunInput

log = logging.getLogger(__name__)

SCHEDULE_ID = "segmentation-scheduled"
ACTOR = "population-schedule"


def run_input(section: dict[str, Any], run_id: str, actor: str) -> SegmentationRunInput:
    """A run's input from the policy's `population_run` section."""
    return SegmentationRunInput(
        run_id,
        actor,
        int(section.get("batch_size", 20_000)),
        int(section.get("parallelism", 2)),
    )


def schedule_of(section: dict[str, Any], control_queue: str) -> Schedule:
    """The Temporal Schedule of a `population_run` section (run id: the workflow id)."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            "segmentation_run",
            run_input(section, "", ACTOR),
            id="segmentation:scheduled",
            task_queue=control_queue,
        ),
        spec=ScheduleSpec(
            cron_expressions=[str(section["schedule"])],
            time_zone_name=str(section.get("timezone", "UTC")),
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def sync_schedule(client: Client, bundle: rules.Bundle, control_queue: str) -> str:
    """Create, update or delete the schedule to match `bundle`; returns what was done."""
    section = bundle.processes.get("population_run") or {}
    handle = client.get_schedule_handle(SCHEDULE_ID)
    if not section.get("schedule"):
        try:
            await handle.delete()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            return "none"
        return "deleted"
    schedule = schedule_of(section, control_queue)
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
        return "created"
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
        return "updated"


async def start_after_activation(
    client: Client, bundle: rules.Bundle, activation: str, control_queue: str
) -> bool:
    """Start the run that follows an activation (once per activation); True if started."""
    section = bundle.processes.get("population_run") or {}
    if not section.get("after_activation"):
        return False
    run_id = f"activation-{activation}"
    try:
        await client.start_workflow(
            "segmentation_run",
            run_input(section, run_id, ACTOR),
            id=f"segmentation:{run_id}",
            task_queue=control_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        return False  # another control worker started it
    return True


@dataclass
class Active:
    """The active version and when it was activated (an activation's identity)."""

    version: str
    key: str


def active_of(sessions: sessionmaker[Session]) -> Active | None:
    with sessions() as s:
        row = policy_store.active_row(s)
        if row is None:
            return None
        at = row.activated_at.strftime("%Y%m%dT%H%M%S") if row.activated_at else "0"
        return Active(row.version, f"{row.version.split(':')[-1][:12]}-{at}")


async def follow(
    client: Client,
    sessions: sessionmaker[Session],
    control_queue: str,
    every: float,
    stop: asyncio.Event,
) -> None:
    """Keep the schedule in line with the active policy; start runs after activations."""
    seen: Active | None = None
    first = True
    while not stop.is_set():
        try:
            now = await asyncio.to_thread(active_of, sessions)
            if now is not None and (seen is None or now.key != seen.key):
                bundle = await asyncio.to_thread(_bundle, sessions)
                done = await sync_schedule(client, bundle, control_queue)
                started = not first and await start_after_activation(
                    client, bundle, now.key, control_queue
                )
                log.info("policy %s: schedule %s, run started: %s", now.version, done, started)
                seen = now
            first = False
        except Exception:  # the store or Temporal is down: try again at the next poll
            log.warning("population schedule follower failed; retrying", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


def _bundle(sessions: sessionmaker[Session]) -> rules.Bundle:
    with sessions() as s:
        return policy_store.active_bundle(s)
