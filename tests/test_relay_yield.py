"""A relay yields to control work of its own process (services/relay.py `yield_to`): while a
population-run batch runs there, it keeps a few rows in flight instead of its concurrency,
and still applies every row; without it, it uses its concurrency. Real dev server, SQLite."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from activities.segmentation import InFlight
from services import outbox
from services.relay import YIELD_SHARE, Claimed, Outcome, Relay, RelayConfig
from store import db
from workflows.inputs import ArrearsInput

pytestmark = pytest.mark.e2e


@pytest.fixture
def sessions(store_url: str) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(store_url)
    try:
        yield db.session_factory(engine)
    finally:
        engine.dispose()


class Counting(Relay):
    """A relay that notes how many rows it applies at once."""

    in_flight = 0
    most = 0

    async def apply(self, row: Claimed) -> Outcome:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.02)  # every call overlaps the next claims
            return await super().apply(row)
        finally:
            self.in_flight -= 1


def _queue(sessions: sessionmaker[Session], tag: str, n: int) -> None:
    with sessions.begin() as s:
        outbox.add(s, [outbox.start_row("arrears", ArrearsInput(f"Y{tag}{i}", "B1", 1.0), "t")
                       for i in range(n)])  # fmt: skip


@pytest.mark.parametrize("control_running", [True, False])
async def test_relay_keeps_few_rows_in_flight_while_a_batch_runs(
    sessions: sessionmaker[Session], dev_client: Client, control_running: bool
) -> None:
    tag = uuid.uuid4().hex[:8]
    n = 60
    _queue(sessions, tag, n)
    running = InFlight()
    cfg = RelayConfig(concurrency=16, poll_seconds=0.05)
    relay = Counting(sessions, dev_client, f"yield-{tag}", cfg, yield_to=running.busy)
    if control_running:
        with running.one():
            assert running.busy()
            await asyncio.wait_for(relay.run(until_idle=True), 120)
        assert not running.busy()
    else:
        await asyncio.wait_for(relay.run(until_idle=True), 120)
    with sessions() as s:
        assert outbox.depth(s).pending == 0  # nothing is held back, only fewer at once
    assert relay.applied == n
    cap = 16 // YIELD_SHARE
    if control_running:
        assert relay.most <= 2 * cap, relay.most
    else:
        assert relay.most > 2 * cap, relay.most
