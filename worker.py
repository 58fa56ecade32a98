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

from activities.inbox import InboxActivities
from activities.segmentation import SegmentationActivities
from config import Settings
from store.db import make_engine, session_factory
from workflows.callback import CallbackWorkflow
from workflows.segmentation import SegmentationRunWorkflow

log = logging.getLogger("segflow.worker")

WORKFLOWS: list[type[Any]] = [CallbackWorkflow, SegmentationRunWorkflow]


def build_worker(client: Client, settings: Settings, executor: ThreadPoolExecutor) -> Worker:
    """A worker with every workflow and activity, sharing one store engine."""
    sessions = session_factory(make_engine(settings.store_url))
    activities = InboxActivities(sessions).all()
    activities += SegmentationActivities(
        sessions, client, settings.task_queue, settings.start_concurrency
    ).all()
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
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
