"""SIGKILL the API (uvicorn) in the middle of a batch upsert; the client's retry with the same
Idempotency-Key completes, and the store holds every record exactly once; the worker's relay
then starts every call-back the assignments ask for, exactly once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from activities import policy_store
from activities.population import demo_records
from config import Settings
from store.models import Assignment, AuditEntry, Customer, IdempotencyRecord
from tests.faults.conftest import Children, count, drained

pytestmark = [pytest.mark.faults, pytest.mark.e2e]
N = 10_000  # the largest batch: set-based ingest stores smaller ones too fast to interrupt


async def test_kill_api_during_batch_then_retry(
    fault_settings: Settings,
    sessions: sessionmaker[Session],
    children: Children,
    demo_tokens: dict[str, dict[str, str]],
) -> None:
    with sessions.begin() as s:
        policy_store.activate_directory(s, fault_settings.policies_dir, "fault-test")
    records: list[dict[str, Any]] = []
    for rec in demo_records(N):
        records.append({**rec, "customer_id": "AK" + rec["customer_id"]})
    headers = {
        "Authorization": f"Bearer {demo_tokens['crm']['token']}",
        "Idempotency-Key": "crm-batch-0001",
    }
    url = f"http://{fault_settings.api_host}:{fault_settings.api_port}/v1/customers:batch"
    api = children.api()
    async with httpx.AsyncClient(timeout=300) as http:
        first = asyncio.create_task(http.post(url, json=records, headers=headers))
        # kill once the request holds its key (its body is read and the batch is running)
        for _ in range(3000):
            if first.done() or count(sessions, IdempotencyRecord) == 1:
                break
            await asyncio.sleep(0.01)
        assert not first.done(), "the batch finished before the kill: make it bigger"
        Children.kill(api)
        with pytest.raises(httpx.TransportError):
            await first
        # nothing half-way: the batch is one transaction
        stored = count(sessions, Customer, Customer.customer_id.startswith("AK"))
        assert stored in (0, N), stored
        # at most the killed request's pending key (a retry takes it over), no stored answer
        assert count(sessions, IdempotencyRecord, IdempotencyRecord.status_code != 0) == 0

        children.api()
        retry = await http.post(url, json=records, headers=headers)
        assert retry.status_code == 200, retry.text
        body = retry.json()
        assert (body["received"], body["stored"], body["failed"]) == (N, N, 0)
        again = await http.post(url, json=records, headers=headers)
        assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
        assert again.json() == body

    assert count(sessions, Customer, Customer.customer_id.startswith("AK")) == N
    assert count(sessions, Assignment, Assignment.customer_id.startswith("AK")) == N
    assert count(sessions, IdempotencyRecord) == 1
    # the replay did no second batch; at most the killed attempt and the retry are audited
    batches = count(sessions, AuditEntry, AuditEntry.action == "customer.batch_upserted")
    assert batches == (1 if stored == 0 else 2)
    # every call-back the assignments ask for runs exactly once (ids are business keys)
    with sessions() as s:
        wanted = {
            f"callback:{a.customer_id}"
            for a in s.query(Assignment).where(Assignment.customer_id.startswith("AK"))
            if "callback" in a.processes
        }
    # the worker's outbox relay starts them after the answers: wait for it to drain
    children.worker()
    await drained(sessions, "the outbox drained")
    client = await Client.connect(fault_settings.temporal_address)

    async def listed() -> list[str]:
        query = f"WorkflowType = 'callback' AND TaskQueue = '{fault_settings.task_queue}'"
        return [wf.id async for wf in client.list_workflows(query)]

    running = await listed()
    for _ in range(50):  # visibility lags the starts a little
        if set(running) == wanted:
            break
        await asyncio.sleep(0.2)
        running = await listed()
    assert len(running) == len(set(running))
    assert set(running) == wanted
