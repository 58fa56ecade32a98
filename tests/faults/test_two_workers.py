"""Scale-out on PostgreSQL: two worker processes on the same task queues split a population
run's keyset batches and drain the outbox together; totals are exact, no batch is done twice
and no transition is claimed twice."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from temporalio.client import Client

from activities import policy_store
from config import ROOT, Settings
from services import ingest
from store import db
from store.models import Assignment, AuditEntry, SegmentationBatch, Transition
from tests.faults.conftest import Children, drained
from tests.test_ingest import records
from workflows.segmentation_payloads import SegmentationProgress, SegmentationRunInput

pytestmark = [pytest.mark.faults, pytest.mark.e2e, pytest.mark.postgres]

N, BATCH = 2_000, 50


async def test_two_workers_split_a_population_run(
    fault_settings: Settings, pg_store_url: str, tmp_path: object
) -> None:
    # a small relay concurrency: each relay claims a few rows at a time, so both get work
    cfg = fault_settings.model_copy(update={"database_url": pg_store_url, "relay_concurrency": 4})
    engine = db.make_engine(pg_store_url)
    sessions = db.session_factory(engine)
    with sessions.begin() as s:
        bundle = policy_store.activate_directory(s, ROOT / "policies", "test")
        ingest.ingest(s, bundle, records(N))
    kids = Children(cfg, cfg.var_dir / "logs")
    try:
        kids.worker()
        kids.worker()
        client = await Client.connect(cfg.temporal_address)
        handle = await client.start_workflow(
            "segmentation_run",
            SegmentationRunInput("TW1", "crm.test", BATCH, parallelism=8, batches_per_run=15),
            id="segmentation:TW1",
            task_queue=cfg.control_queue,
            result_type=SegmentationProgress,
        )
        result = await handle.result()
        # both relays drain the transitions the run queued
        await drained(sessions, "the outbox drained")
        with sessions() as s:
            applied = s.execute(
                select(Transition.workflow_id, Transition.status, Transition.attempts,
                       Transition.applied_by)
                .where(Transition.source == "segmentation:TW1")
            ).all()  # fmt: skip
        running = [
            (await client.get_workflow_handle(wid).describe()).status.name for wid, *_ in applied
        ]
    finally:
        kids.stop()
    assert (result.total, result.done, result.batches, result.batches_done) == (
        N, N, N // BATCH, N // BATCH)  # fmt: skip
    assert result.runs == 3  # 40 batches, 15 per workflow run
    with sessions() as s:
        rows = s.scalars(
            select(SegmentationBatch)
            .where(SegmentationBatch.run_id == "TW1")
            .order_by(SegmentationBatch.seq)
        ).all()
        audited = s.scalar(select(func.count()).where(AuditEntry.action == "segmentation.batch"))
        assigned = s.scalar(select(func.count()).select_from(Assignment))
    assert [r.seq for r in rows] == list(range(N // BATCH))
    assert all(r.status == "done" for r in rows)
    assert sum(r.customers for r in rows) == N and assigned == N
    # each batch wrote (and audited) its changes exactly once
    assert audited == sum(1 for r in rows if r.changed)
    assert sum(r.changed for r in rows) == result.changed
    # both worker processes took batches
    assert len({r.worker for r in rows}) == 2, {r.worker for r in rows}
    # the outbox: one row per process start the batches counted, every one applied once
    # (claimed once: one attempt) by one of the two relays, and each workflow running
    assert result.processes_started > 0 and result.processes_stopped == 0
    assert len(applied) == result.processes_started
    assert len({wid for wid, *_ in applied}) == len(applied)
    assert {(status, attempts) for _, status, attempts, _ in applied} == {("done", 1)}
    owners = {owner for *_, owner in applied}
    assert len(owners) == 2 and None not in owners, owners
    assert set(running) == {"RUNNING"}
    engine.dispose()
