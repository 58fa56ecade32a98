"""The Temporal worker process: every workflow and activity of segflow on one task queue.

Run it as `python worker.py` (or `segflow worker`); scale out by running more of them on the
same task queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.adapters import AdapterActivities
from activities.inbox import InboxActivities
from activities.process_activities import ProcessActivities
from activities.protections import ProtectionActivities
from activities.segmentation import SegmentationActivities
from config import Settings
from rules import jurisdiction
from store.db import make_engine, session_factory
from workflows.arrears import ArrearsWorkflow
from workflows.callback import CallbackWorkflow
from workflows.closure import ClosureWorkflow
from workflows.hazard import HazardWorkflow
from workflows.key_account import ServiceRequestWorkflow, VisitWorkflow
from workflows.outage import OutageWorkflow
from workflows.scheduled import SCHEDULED_WORKFLOWS
from workflows.segmentation import SegmentationRunWorkflow

log = logging.getLogger("segflow.worker")

WORKFLOWS: list[type[Any]] = [
    CallbackWorkflow,
    SegmentationRunWorkflow,
    ArrearsWorkflow,
    HazardWorkflow,
    ClosureWorkflow,
    VisitWorkflow,
    ServiceRequestWorkflow,
    OutageWorkflow,
    *SCHEDULED_WORKFLOWS,
]


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox with our `workflows` package passed through: payload dataclasses must be
    the very classes the payload converter resolves type hints against (re-imported inside the
    sandbox, their `from __future__` annotations fail to resolve)."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("workflows")
    )


def build_worker(client: Client, settings: Settings, executor: ThreadPoolExecutor) -> Worker:
    """A worker with every workflow and activity, sharing one store engine."""
    if settings.extra_jurisdictions_dir is not None:
        jurisdiction.add_pack_dir(settings.extra_jurisdictions_dir)
    sessions = session_factory(make_engine(settings.store_url))
    activities = InboxActivities(sessions).all()
    activities += AdapterActivities(sessions).all() + ProcessActivities(sessions, client).all()
    activities += ProtectionActivities(sessions).all()
    activities += SegmentationActivities(
        sessions, client, settings.task_queue, settings.start_concurrency
    ).all()
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=activities,
        activity_executor=executor,
        max_concurrent_activities=16,
    )


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Connect and poll until `stop` is set (or forever)."""
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    with ThreadPoolExecutor(max_workers=16) as executor:
        worker = build_worker(client, settings, executor)
        log.info("worker polling %s on %s", settings.task_queue, settings.temporal_address)
        async with worker:
            await (stop.wait() if stop else asyncio.Event().wait())


def main() -> None:
    """Entry point of the worker process."""
    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(settings))


if __name__ == "__main__":
    main()
