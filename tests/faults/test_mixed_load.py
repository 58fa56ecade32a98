"""Mixed load on SQLite and PostgreSQL: 20 clients mix customer upserts, CRM events of several
types, inbox reads, task claims and completions on the same few customers, through uvicorn,
a worker subprocess (with its outbox relay) and the dev server.

No request times out or gets a 5xx, /healthz keeps answering throughout (the
API used to freeze for good under this mix on PostgreSQL), and once the relay has drained
the outbox the store and Temporal agree: every segment process the assignments ask for runs,
none that they do not, every queued start exists, every signal arrived exactly once.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from activities import policy_store
from config import Settings
from store import db
from store.models import Assignment, Transition
from tests.faults.conftest import Children, drained

pytestmark = [pytest.mark.faults, pytest.mark.e2e]
CLIENTS, REQUESTS = 20, 300
# customer ids of one test: workflow ids are business keys on the session's shared dev server
TAG = uuid.uuid4().hex[:4].upper()
ALLOWED = {200, 201, 404, 409}  # 404/409: a task claimed or completed by a faster client


@pytest.fixture
def mixed_settings(fault_settings: Settings, any_store: str) -> Settings:
    url = any_store if any_store.startswith("postgresql") else ""
    return fault_settings.model_copy(update={"database_url": url})


async def test_mixed_load_no_freeze_and_store_agrees_with_temporal(
    mixed_settings: Settings, demo_tokens: dict[str, dict[str, str]], tmp_path: Any
) -> None:
    cfg = mixed_settings
    ids = [f"M{TAG}{'P' if cfg.database_url else 'S'}{i:02d}" for i in range(12)]
    engine = db.make_engine(cfg.store_url)
    sessions = db.session_factory(engine)
    with sessions.begin() as s:
        policy_store.activate_directory(s, cfg.policies_dir, "fault-test")
    kids = Children(cfg, tmp_path / "logs")
    try:
        kids.worker()
        kids.api()
        await _load(cfg, demo_tokens, ids)
        await drained(sessions, "the outbox drained")
        await _agree(cfg, sessions, ids)
    finally:
        kids.stop()
        engine.dispose()


async def _load(cfg: Settings, tokens: dict[str, dict[str, str]], ids: list[str]) -> None:
    auth = {r: {"Authorization": f"Bearer {tokens[r]['token']}"} for r in tokens}
    rnd = random.Random(7)
    statuses: Counter[tuple[str, int]] = Counter()
    base = f"http://{cfg.api_host}:{cfg.api_port}"
    limits = httpx.Limits(max_connections=CLIENTS + 1, keepalive_expiry=2.0)  # < uvicorn 5 s
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        # a population in which some of our customers rank B (call-backs, visits)
        population = [{"customer_id": f"P{ids[0]}{i:02d}", "tariff": "residential",
                       "annual_revenue": float(10 + i)} for i in range(20)]  # fmt: skip
        population.append({"customer_id": f"T{ids[0]}", "annual_revenue": 1e7})
        population += [{"customer_id": c, "tariff": "residential", "annual_revenue": 800.0}
                       for c in ids]  # fmt: skip
        r = await http.post("/v1/customers:batch", json=population, headers=auth["crm"])
        assert r.status_code == 200, r.text
        # a population run: the ABC cut points that upserts compare with
        r = await http.post("/v1/segmentation-runs", headers=auth["crm"])
        assert r.status_code == 202, r.text
        url = r.json()["status_url"]

        async def run_done() -> bool:
            body = (await http.get(url, headers=auth["crm"])).json()
            return bool(body["status"] == "completed")

        for _ in range(600):
            if await run_done():
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the population run did not finish")
        counter = iter(range(10**6))

        async def event(etype: str, cid: str, data: dict[str, Any]) -> httpx.Response:
            body = {"event_id": f"ev-{next(counter)}", "type": etype, "customer_id": cid,
                    "data": data}  # fmt: skip
            return await http.post("/v1/events", json=body, headers=auth["crm"])

        async def claim_and_complete() -> list[httpx.Response]:
            r = await http.get("/v1/tasks", params={"kind": "callback_call"}, headers=auth["agent"])
            out = [r]
            if r.status_code == 200 and r.json():
                task = rnd.choice(r.json())
                tid = task["task_id"]
                out.append(await http.post(f"/v1/tasks/{tid}/claim", headers=auth["agent"]))
                body = {"result": {"outcome": "verified"}}
                url = f"/v1/tasks/{tid}/complete"
                out.append(await http.post(url, json=body, headers=auth["agent"]))
            return out

        def op(i: int) -> Any:
            cid = rnd.choice(ids)
            kind = rnd.choice(["put", "put", "complaint", "overdue", "payment", "service",
                               "inbox", "task"])  # fmt: skip
            if kind == "put":
                revenue = rnd.choice([800.0, 800.0, 1.0])  # B, or C (processes stop)
                rec = {"tariff": "residential", "annual_revenue": revenue}
                return kind, http.put(f"/v1/customers/{cid}", json=rec, headers=auth["crm"])
            if kind == "complaint":
                topic = rnd.choice(["outage", "service"])
                return kind, event("complaint", cid, {"topic": topic})
            if kind == "overdue":
                bill = f"B{i % 3}"  # the same bill recurs with the same amount: idempotent
                return kind, event("bill_overdue", cid, {"bill_id": bill, "amount": 100.0})
            if kind == "payment":
                data = {"amount": 10.0, "channel": "online", "payment_id": f"pay-{i}"}
                return kind, event("payment_received", cid, data)
            if kind == "service":
                data = {"request_id": f"SR{i}", "subject": "billing"}
                return kind, event("service_request", cid, data)
            if kind == "inbox":
                return kind, http.get(
                    "/v1/tasks", headers=auth[rnd.choice(["agent", "supervisor"])]
                )
            return kind, claim_and_complete()

        ops = [op(i) for i in range(REQUESTS)]
        queue = iter(ops)
        slow: list[float] = []

        async def client() -> None:
            for kind, call in queue:
                result = await call
                for resp in result if isinstance(result, list) else [result]:
                    statuses[(kind, resp.status_code)] += 1

        async def health() -> None:
            while True:
                t0 = time.perf_counter()
                r = await http.get("/healthz", timeout=10)
                assert r.status_code == 200
                slow.append(time.perf_counter() - t0)
                await asyncio.sleep(0.25)

        watcher = asyncio.create_task(health())
        try:
            await asyncio.wait_for(asyncio.gather(*(client() for _ in range(CLIENTS))), 300)
        finally:
            watcher.cancel()
    bad = {k: n for k, n in statuses.items() if k[1] not in ALLOWED}
    assert not bad, (bad, statuses)
    assert sum(n for (k, c), n in statuses.items() if k == "put" and c == 200) > 50
    # a freeze is for good (the old failure); on this shared 2-CPU machine a loaded scheduler
    # may still delay one answer by seconds
    assert max(slow) < 10.0, max(slow)


async def _agree(cfg: Settings, sessions: sessionmaker[Session], ids: list[str]) -> None:
    client = await Client.connect(cfg.temporal_address)
    with sessions() as s:
        assert s.scalars(select(Transition).where(Transition.status == "failed")).all() == []
        wanted = {
            f"{wf}:{a.customer_id}": key in a.processes
            for a in s.scalars(select(Assignment).where(Assignment.customer_id.in_(ids)))
            for key, wf in (("callback", "callback"), ("key_account_visit", "visit"))
        }
        rows = s.scalars(select(Transition).where(Transition.status == "done")).all()
    # a process told to leave ends after its closing steps (activities): give them time
    deadline = time.monotonic() + 90
    for wid, asked in wanted.items():
        while await _running(client, wid) != asked:
            if time.monotonic() > deadline:
                raise AssertionError(await _explain(client, sessions, wid, asked))
            await asyncio.sleep(0.5)
    starts = {r.workflow_id for r in rows if r.op == "start"}
    for wid in starts:
        await client.get_workflow_handle(wid).describe()  # exists
    payments = Counter(r.workflow_id for r in rows if r.signal == "payment")
    assert payments, "the mix sent payments to running arrears processes"
    for wid, n in payments.items():
        events = [e async for e in client.get_workflow_handle(wid).fetch_history_events()]
        got = sum(
            e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
            and e.workflow_execution_signaled_event_attributes.signal_name == "payment"
            for e in events
        )
        assert got == n, (wid, got, n)


async def _running(client: Client, workflow_id: str) -> bool:
    try:
        desc = await client.get_workflow_handle(workflow_id).describe()
    except RPCError:
        return False
    return desc.status == WorkflowExecutionStatus.RUNNING


async def _explain(client: Client, sessions: sessionmaker[Session], wid: str, asked: bool) -> str:
    """What the store and Temporal say about one disagreeing workflow."""
    with sessions() as s:
        rows = s.scalars(select(Transition).where(Transition.workflow_id == wid)
                         .order_by(Transition.id)).all()  # fmt: skip
        trail = [(r.id, r.op, r.status, r.attempts, r.last_error, str(r.applied_at))
                 for r in rows]  # fmt: skip
    runs = [(w.run_id, w.status, str(w.start_time), str(w.close_time))
            async for w in client.list_workflows(f"WorkflowId = '{wid}'")]  # fmt: skip
    return f"{wid}: asked={asked}; outbox {trail}; runs {runs}"
