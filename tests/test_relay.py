"""The outbox relay against the real dev server, on SQLite and PostgreSQL: two relays drain
one outbox together; every start runs once, every signal arrives once, in order per workflow;
a conflicting input is recorded as failed and audited; a signal to no workflow is skipped.

No worker polls the test's task queue: started workflows wait in Temporal with their signals
in their history, which is exactly what the test counts.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from services import outbox
from services.relay import Relay, RelayConfig
from store import db
from store.models import AuditEntry, Transition
from workflows.inputs import ArrearsInput
from workflows.signals import LeaveSignal, PaymentSignal

pytestmark = pytest.mark.e2e


@pytest.fixture
def sessions(any_store: str) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(any_store)
    try:
        yield db.session_factory(engine)
    finally:
        engine.dispose()


async def history(client: Client, workflow_id: str) -> list[Any]:
    """Every event of the workflow's current run."""
    return [e async for e in client.get_workflow_handle(workflow_id).fetch_history_events()]


def statuses(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as s:
        rows = s.execute(select(Transition.status, func.count()).group_by(Transition.status))
        return {status: n for status, n in rows}


async def test_two_relays_apply_each_transition_once_in_order(
    sessions: sessionmaker[Session], dev_client: Client
) -> None:
    tag = uuid.uuid4().hex[:8]
    queue = f"relay-{tag}"
    n = 40
    with sessions.begin() as s:
        rows: list[dict[str, Any]] = []
        for i in range(n):
            inp = ArrearsInput(f"R{tag}{i}", "B1", 100.0 + i)
            start = outbox.start_row("arrears", inp, "test")
            rows.append(start)
            for k in range(3):  # three payments per workflow: their order must hold
                pay = PaymentSignal(float(k), False, None, f"p{k}")
                rows.append(outbox.signal_row("arrears", start["workflow_id"], "payment", pay,
                                              inp.customer_id, "test"))  # fmt: skip
        # the same key again with the same input (idempotent) and with another (conflict)
        rows.append(outbox.start_row("arrears", ArrearsInput(f"R{tag}0", "B1", 100.0), "t"))
        rows.append(outbox.start_row("arrears", ArrearsInput(f"R{tag}1", "B1", 5.0), "t"))
        rows.append(outbox.signal_row("callback", f"callback:none-{tag}", "leave", LeaveSignal(),
                                      None, "t"))  # fmt: skip
        outbox.add(s, rows)

    cfg = RelayConfig(concurrency=8, poll_seconds=0.05)
    relays = [Relay(sessions, dev_client, queue, cfg) for _ in range(2)]
    await asyncio.wait_for(asyncio.gather(*(r.run(until_idle=True) for r in relays)), 120)
    # until_idle may stop one relay while the other still holds rows: finish the rest
    await asyncio.wait_for(relays[0].run(until_idle=True), 60)

    assert statuses(sessions) == {"done": 4 * n + 1, "failed": 1, "skipped": 1}
    assert all(r.applied > 0 for r in relays)  # both took part
    for i in range(n):
        events = await history(dev_client, f"arrears:R{tag}{i}")
        starts = [
            e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
        ]
        signals = [
            e.workflow_execution_signaled_event_attributes
            for e in events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        ]
        assert len(starts) == 1
        convert = dev_client.data_converter.payload_converter
        paid = [convert.from_payloads(list(a.input.payloads))[0]["payment_id"] for a in signals]
        assert paid == ["p0", "p1", "p2"], paid
    with sessions() as s:
        failed = s.scalars(select(Transition).where(Transition.status == "failed")).one()
        assert failed.workflow_id == f"arrears:R{tag}1" and "different input" in str(
            failed.last_error
        )
        audited = s.scalars(select(AuditEntry).where(AuditEntry.action == "transition.failed"))
        assert [a.detail["transition_id"] for a in audited] == [failed.request_id]
        assert outbox.depth(s).pending == 0


async def test_temporal_unreachable_rows_wait_and_retry(
    sessions: sessionmaker[Session], dev_server: str
) -> None:
    """A relay whose Temporal is away keeps the rows pending (attempts counted, backoff),
    loses nothing, and applies them once a reachable relay runs."""
    tag = uuid.uuid4().hex[:8]
    with sessions.begin() as s:
        outbox.add(s, [outbox.start_row("arrears", ArrearsInput(f"U{tag}", "B1", 1.0), "t")])
    away = await Client.connect("127.0.0.1:1", lazy=True)
    cfg = RelayConfig(
        concurrency=2, poll_seconds=0.05, backoff_base_seconds=0.05, backoff_max_seconds=0.2
    )
    stop = asyncio.Event()
    task = asyncio.create_task(Relay(sessions, away, "q", cfg).run(stop))
    await asyncio.sleep(2)
    stop.set()
    await task
    with sessions() as s:
        row = s.scalars(select(Transition)).one()
        assert row.status == "pending" and row.attempts >= 2 and row.last_error
    client = await Client.connect(dev_server)
    await asyncio.sleep(0.3)  # past the backoff
    await Relay(sessions, client, f"q-{tag}", cfg).run(until_idle=True)
    assert statuses(sessions) == {"done": 1}
