"""Relay faults: `segflow relay` killed with SIGKILL in the middle of a drain, and Temporal
stopped while the API keeps accepting. Every transition is applied exactly once, nothing is
lost: each workflow has one run, each signal is in its history once.

No worker polls the started workflows' queue in the kill test: a started workflow waits in
Temporal with its signals in its history, which is what the test counts.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

import devstack
from activities import policy_store
from config import ROOT, Settings
from services import outbox
from store.models import Transition
from tests.faults.conftest import Children, child_env, drained, outbox_depth, until
from workflows.inputs import ClosureInput

pytestmark = [pytest.mark.faults, pytest.mark.e2e]


def done(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        query = select(func.count()).select_from(Transition).where(Transition.status == "done")
        return int(s.scalar(query) or 0)


async def signalled(client: Client, workflow_id: str, name: str) -> tuple[int, int]:
    """(runs, signals named `name` in the current run's history)."""
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    events = [e async for e in client.get_workflow_handle(workflow_id).fetch_history_events()]
    count = sum(
        e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        and e.workflow_execution_signaled_event_attributes.signal_name == name
        for e in events
    )
    return len(runs), count


async def test_relay_killed_mid_drain_applies_each_transition_once(
    fault_settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    n = 120
    with sessions.begin() as s:
        rows: list[dict[str, Any]] = []
        for i in range(n):
            start = outbox.start_row("closure", ClosureInput(f"K{tag}{i}", "R1"), "test")
            rows.append(start)
            rows.append(outbox.signal_row("closure", start["workflow_id"], "case_settled",
                                          _settled(i), f"K{tag}{i}", "test"))  # fmt: skip
        outbox.add(s, rows)
    # a slow relay (rate limit) with short leases: killed while rows are in flight
    cfg = fault_settings.model_copy(update={"relay_rate": 40.0, "relay_lease_seconds": 2.0,
                                            "relay_concurrency": 8})  # fmt: skip
    env = {**child_env(cfg), "SEGFLOW_RELAY_RATE": "40", "SEGFLOW_RELAY_LEASE_SECONDS": "2",
           "SEGFLOW_RELAY_CONCURRENCY": "8"}  # fmt: skip
    cmd = [sys.executable, str(ROOT / "cli.py"), "relay"]
    first = devstack.spawn(cmd, tmp_path / "relay1.log", env)
    try:
        await until(lambda: done(sessions) >= 40, 60, "the first relay at work")
        Children.kill(first)
    finally:
        if first.poll() is None:
            Children.kill(first)
    assert done(sessions) < 2 * n, "the drain finished before the kill: slow it down"
    second = devstack.spawn(cmd, tmp_path / "relay2.log", env)
    try:
        await drained(sessions, "the second relay drained")
    finally:
        Children.kill(second)
    assert done(sessions) == 2 * n
    client = await Client.connect(fault_settings.temporal_address)
    await asyncio.sleep(2)  # visibility (the run list) lags the history a little
    for i in range(n):
        assert await signalled(client, f"closure:K{tag}{i}", "case_settled") == (1, 1), i


def _settled(i: int) -> Any:
    from workflows.signals import CaseSettledSignal

    return CaseSettledSignal(f"case-{i}")


async def test_temporal_down_api_accepts_relay_catches_up(
    settings: Settings,
    store_url: str,
    sessions: sessionmaker[Session],
    demo_tokens: dict[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    workdir = tmp_path / "temporal"
    workdir.mkdir()
    port, ui_port = devstack.free_port(), devstack.free_port()
    command = devstack.temporal_command(workdir / "temporal.db", port, ui_port)
    server = devstack.spawn(command, workdir / "temporal.log")
    cfg = settings.model_copy(update={
        "temporal_address": f"127.0.0.1:{port}", "task_queue": "down",
        "api_port": devstack.free_port(), "relay_poll_seconds": 0.2,
        "relay_backoff_max_seconds": 2.0,
    })  # fmt: skip
    kids = Children(cfg, tmp_path / "logs")
    tag = uuid.uuid4().hex[:6]
    try:
        devstack.wait_port("127.0.0.1", port, 60, server)
        with sessions.begin() as s:
            policy_store.activate_directory(s, cfg.policies_dir, "fault-test")
        kids.worker()
        kids.api()
        base = f"http://{cfg.api_host}:{cfg.api_port}"
        crm = {"Authorization": f"Bearer {demo_tokens['crm']['token']}"}
        devstack.stop_all([server])  # Temporal goes away
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 503 and ready.json()["temporal"].startswith("down")
            for i in range(20):
                cid = f"D{tag}{i}"
                r = await http.put(f"/v1/customers/{cid}", json={"tariff": "residential"},
                                   headers=crm)  # fmt: skip
                assert r.status_code == 200, r.text
                ev = {"event_id": f"d-{tag}-{i}", "type": "service_request", "customer_id": cid,
                      "data": {"request_id": "S1", "subject": "billing"}}  # fmt: skip
                r = await http.post("/v1/events", json=ev, headers=crm)
                assert r.status_code == 200, r.text
                assert [t["status"] for t in r.json()["transitions"]] == ["pending"]
            pending = outbox_depth(sessions)
            assert pending >= 20
            ready = (await http.get("/readyz")).json()
            assert ready["outbox"]["pending"] == pending
        server = devstack.spawn(command, workdir / "temporal.log")  # back, same database
        devstack.wait_port("127.0.0.1", port, 60, server)
        await drained(sessions, "the relay caught up")
        client = await Client.connect(cfg.temporal_address)
        await asyncio.sleep(2)  # visibility lags the starts a little
        for i in range(20):
            runs = [w async for w in client.list_workflows(
                f"WorkflowId = 'service_request:D{tag}{i}:S1'")]  # fmt: skip
            assert len(runs) == 1, i
        with sessions() as s:
            failed = select(func.count()).select_from(Transition)
            assert s.scalar(failed.where(Transition.status == "failed")) == 0
    finally:
        kids.stop()
        devstack.stop_all([server])
