"""The Temporal worker process: segflow's workflows and activities on two task queues.

The control queue carries population runs and their batches; the process queue carries the
customer processes (call-backs, arrears, ...). One process polls both by default, each queue
with its own slots, so a run never waits behind a backlog of customer processes; a deployment
may run them apart (`SEGFLOW_WORKER_QUEUES=control|processes`). Each worker process also runs
an outbox relay (services/relay.py) that applies queued process transitions to Temporal
(`SEGFLOW_RELAY_IN_WORKER`). Run it as `python worker.py` (or `segflow worker`); scale out by
running more of them on the same task queues (their relays share the outbox safely).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import segmentation
from activities.adapters import AdapterActivities
from activities.callback_steps import CallbackActivities
from activities.inbox import InboxActivities
from activities.process_activities import ProcessActivities
from activities.protections import ProtectionActivities
from activities.segmentation import SegmentationActivities
from config import Settings
from rules import jurisdiction
from services import schedules
from services.relay import Relay, RelayConfig
from store.db import make_engine, session_factory
from workflows import catalogue

log = logging.getLogger("segflow.worker")

# the process catalogue names every workflow once, with the queue it runs on
CONTROL_WORKFLOWS: list[type[Any]] = catalogue.workflows("control")
PROCESS_WORKFLOWS: list[type[Any]] = catalogue.workflows("processes")
WORKFLOWS: list[type[Any]] = CONTROL_WORKFLOWS + PROCESS_WORKFLOWS


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox with our `workflows` package passed through: payload dataclasses must be
    the very classes the payload converter resolves type hints against (re-imported inside the
    sandbox, their `from __future__` annotations fail to resolve)."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("workflows")
    )


def store_sessions(settings: Settings) -> sessionmaker[Session]:
    """Sessions of the store with the worker's PostgreSQL timeouts (a longer lock wait than
    the API's: an activity has no caller waiting, and a failed attempt only comes back)."""
    engine = make_engine(
        settings.store_url,
        settings.worker_store_lock_timeout_ms,
        settings.store_statement_timeout_ms,
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
    """An outbox relay; it starts each kind on its catalogue queue (control or processes).
    In a process that also takes population-run batches it yields to them."""
    queues = {"control": settings.control_queue, "processes": settings.task_queue}
    control = settings.worker_queues in ("all", "control")
    return Relay(sessions, client, queues, relay_config(settings),
                 yield_to=segmentation.RUNNING.busy if control else None)  # fmt: skip


def build_workers(client: Client, settings: Settings, executor: ThreadPoolExecutor) -> list[Worker]:
    """The workers of the queues `settings.worker_queues` names, sharing one store engine."""
    if settings.extra_jurisdictions_dir is not None:
        jurisdiction.add_pack_dir(settings.extra_jurisdictions_dir)
    sessions = store_sessions(settings)
    inbox = InboxActivities(sessions)
    workers: list[Worker] = []
    if settings.worker_queues in ("all", "control"):
        control = SegmentationActivities(sessions).all()
        workers.append(
            Worker(
                client,
                task_queue=settings.control_queue,
                workflows=CONTROL_WORKFLOWS,
                workflow_runner=workflow_runner(),
                activities=[*control, inbox.record_step],
                activity_executor=executor,
                max_concurrent_activities=4,
            )
        )
    if settings.worker_queues in ("all", "processes"):
        activities = inbox.all() + AdapterActivities(sessions).all()
        activities += CallbackActivities(sessions).all()
        activities += ProcessActivities(sessions, client).all()
        activities += ProtectionActivities(sessions).all()
        workers.append(
            Worker(
                client,
                task_queue=settings.task_queue,
                workflows=PROCESS_WORKFLOWS,
                workflow_runner=workflow_runner(),
                activities=activities,
                activity_executor=executor,
                max_concurrent_activities=16,
            )
        )
    return workers


@contextlib.asynccontextmanager
async def build_worker(
    client: Client, settings: Settings, executor: ThreadPoolExecutor
) -> AsyncIterator[list[Worker]]:
    """Run the workers of `build_workers` while the context is open."""
    async with contextlib.AsyncExitStack() as stack:
        workers = [await stack.enter_async_context(w) for w in build_workers(
            client, settings, executor)]  # fmt: skip
        yield workers


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Connect and poll until `stop` is set (or forever)."""
    client = await Client.connect(settings.temporal_address, **settings.temporal_connect_options())
    with ThreadPoolExecutor(max_workers=20) as executor:
        queues = {
            "all": f"{settings.control_queue} and {settings.task_queue}",
            "control": settings.control_queue,
            "processes": settings.task_queue,
        }
        log.info("worker polling %s on %s", queues[settings.worker_queues],
                 settings.temporal_address)  # fmt: skip
        stop = stop or asyncio.Event()
        async with build_worker(client, settings, executor), follow_policy(client, settings, stop):
            if settings.relay_in_worker:
                await build_relay(client, settings, store_sessions(settings)).run(stop)
            else:
                await stop.wait()


@contextlib.asynccontextmanager
async def follow_policy(
    client: Client, settings: Settings, stop: asyncio.Event
) -> AsyncIterator[None]:
    """Control workers keep the population-run schedule in line with the active policy."""
    task = None
    if settings.worker_queues in ("all", "control") and settings.policy_poll_seconds > 0:
        sessions = session_factory(make_engine(settings.store_url))
        every = settings.policy_poll_seconds
        task = asyncio.create_task(
            schedules.follow(client, sessions, settings.control_queue, every, stop)
        )
    try:
        yield
    finally:
        if task is not None:
            stop.set()
            await task


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
