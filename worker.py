"""The Temporal worker process: every workflow and activity of segflow on one task queue,
and the outbox relay that applies queued process transitions to Temporal.

Run it as `python worker.py` (or `segflow worker`); scale out by running more of them on the
same task queue (their relays share the outbox safely).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.adapters import AdapterActivities
from activities.inbox import InboxActivities
from activities.process_activities import ProcessActivities
from activities.segmentation import SegmentationActivities
from config import Settings
from services.relay import Relay, RelayConfig
from store.db import make_engine, session_factory
from workflows import catalogue

log = logging.getLogger("segflow.worker")

# every workflow of the process catalogue (one place names them)
WORKFLOWS: list[type[Any]] = catalogue.workflows()


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox with our `workflows` package passed through: payload dataclasses must be
    the very classes the payload converter resolves type hints against (re-imported inside the
    sandbox, their `from __future__` annotations fail to resolve)."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("workflows")
    )


def store_sessions(settings: Settings) -> sessionmaker[Session]:
    """Sessions of the store with the settings' PostgreSQL timeouts."""
    engine = make_engine(
        settings.store_url, settings.store_lock_timeout_ms, settings.store_statement_timeout_ms
    )
    return session_factory(engine)


def relay_config(settings: Settings) -> RelayConfig:
    """The relay knobs of the settings."""
    return RelayConfig(
        concurrency=settings.relay_concurrency,
        rate=settings.relay_rate,
        poll_seconds=settings.relay_poll_seconds,
        lease_seconds=settings.relay_lease_seconds,
        backoff_max_seconds=settings.relay_backoff_max_seconds,
    )


def build_relay(client: Client, settings: Settings, sessions: sessionmaker[Session]) -> Relay:
    """An outbox relay applying transitions to the settings' task queue."""
    return Relay(sessions, client, settings.task_queue, relay_config(settings))


def build_worker(client: Client, settings: Settings, executor: ThreadPoolExecutor) -> Worker:
    """A worker with every workflow and activity, sharing one store engine."""
    sessions = store_sessions(settings)
    activities = InboxActivities(sessions).all()
    activities += AdapterActivities(sessions).all() + ProcessActivities(sessions, client).all()
    activities += SegmentationActivities(sessions).all()
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
    stop = stop or asyncio.Event()
    with ThreadPoolExecutor(max_workers=16) as executor:
        worker = build_worker(client, settings, executor)
        log.info("worker polling %s on %s", settings.task_queue, settings.temporal_address)
        async with worker:
            if settings.relay_in_worker:
                relay = build_relay(client, settings, store_sessions(settings))
                await relay.run(stop)
            else:
                await stop.wait()


async def run_relay(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """The relay alone (`segflow relay`), for deployments that scale it apart from workers."""
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    relay = build_relay(client, settings, store_sessions(settings))
    log.info("relay %s applying the outbox to %s", relay.owner, settings.temporal_address)
    await relay.run(stop or asyncio.Event())


def main() -> None:
    """Entry point of the worker process."""
    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(settings))


if __name__ == "__main__":
    main()
