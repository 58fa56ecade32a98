"""Stop and restart the Temporal dev server on the same SQLite file while workflows sleep on
their timers: the worker (a subprocess) reconnects and every timer fires at its due time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

import devstack
from config import Settings
from store.models import Assignment, Customer, OutboxMessage
from tests.faults.conftest import Children, activate, fast_arrears_bundle, until
from workflows.inputs import ArrearsInput

pytestmark = [pytest.mark.faults, pytest.mark.e2e]
WAIT = 15.0  # the first reminder's wait (seconds)
IDS = [f"TR{i}" for i in range(4)]


def sent_at(sessions: sessionmaker[Session], step: str) -> dict[str, datetime]:
    with sessions() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.action == step))
        return {m.customer_id: datetime.fromisoformat(m.payload["at"]) for m in rows}


async def test_dev_server_restart_while_timers_sleep(
    settings: Settings, store_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    workdir = tmp_path / "temporal"
    workdir.mkdir()
    port, ui_port = devstack.free_port(), devstack.free_port()
    command = devstack.temporal_command(workdir / "temporal.db", port, ui_port)
    server = devstack.spawn(command, workdir / "temporal.log")
    cfg = settings.model_copy(
        update={"temporal_address": f"127.0.0.1:{port}", "task_queue": "restart"}
    )
    kids = Children(cfg, tmp_path / "logs")
    try:
        devstack.wait_port("127.0.0.1", port, 60, server)
        bundle = fast_arrears_bundle(sms_wait=f"PT{int(WAIT)}S")
        activate(sessions, bundle)
        with sessions.begin() as s:
            for cid in IDS:
                s.add(Customer(customer_id=cid, category="residential",
                               contacts={"phone": "+86 138 0000 2", "wechat": "wx"}))  # fmt: skip
                s.flush()
                s.add(Assignment(customer_id=cid, policy_version=bundle.version,
                                 category="residential", abc_class="C", tags=[],
                                 points_tier="standard", actions={}, processes={}))  # fmt: skip
        kids.worker()
        client = await Client.connect(cfg.temporal_address)
        for cid in IDS:
            wid = f"arrears:{cid}:B1"
            await client.start_workflow(
                "arrears", ArrearsInput(cid, "B1", 10.0), id=wid, task_queue=cfg.task_queue
            )
        first = await until(
            lambda: (found := sent_at(sessions, "sms_reminder")) and len(found) == len(IDS)
            and found, 60, "every first reminder",
        )  # fmt: skip

        devstack.stop_all([server])  # the timers are pending in temporal.db
        await asyncio.sleep(4)
        server = devstack.spawn(command, workdir / "temporal.log")
        devstack.wait_port("127.0.0.1", port, 60, server)
        back = datetime.now(UTC)  # the server answers again

        second = await until(
            lambda: (found := sent_at(sessions, "wechat_reminder")) and len(found) == len(IDS)
            and found, 90, "every second reminder after the restart",
        )  # fmt: skip
        for cid in IDS:
            # not early, not lost, and on time: at the due time, or soon after the server is
            # back when it was due while the server was away (the worker's reconnect backoff
            # and a loaded machine add seconds, not a lost timer)
            due = first[cid] + timedelta(seconds=WAIT)
            assert due <= second[cid], (cid, second[cid] - first[cid])
            assert second[cid] <= max(due, back) + timedelta(seconds=15), (cid, second[cid], back)
    finally:
        kids.stop()
        devstack.stop_all([server])
