"""Scale-out on PostgreSQL: two worker processes on the same task queues split a population
run's keyset batches; totals are exact and no batch is done twice."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from temporalio.client import Client

from activities import policy_store
from config import ROOT, Settings
from services import ingest
from store import db
from store.models import Assignment, AuditEntry, SegmentationBatch
from tests.faults.conftest import Children
from tests.test_ingest import records
from workflows.segmentation_payloads import SegmentationProgress, SegmentationRunInput

pytestmark = [pytest.mark.faults, pytest.mark.e2e, pytest.mark.postgres]

N, BATCH = 2_000, 50


async def test_two_workers_split_a_population_run(
    fault_settings: Settings, pg_store_url: str, tmp_path: object
) -> None:
    cfg = fault_settings.model_copy(update={"database_url": pg_store_url})
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
    engine.dispose()
