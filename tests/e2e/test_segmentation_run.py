"""A CRM pushes a population, runs a segmentation, and sees processes start."""

from __future__ import annotations

import json

from sqlalchemy import select

from store import db
from store.models import AbcCutPoint, Assignment, SegmentationBatch
from tests.e2e.conftest import Stack, population_run
from workflows.segmentation_payloads import SegmentationProgress, SegmentationRunInput


def _population(n: int) -> list[dict[str, object]]:
    return [
        {"customer_id": f"P{i:04d}", "tariff": "residential", "annual_revenue": float(1000 - i),
         "online_interactions_12m": i % 9, "offline_interactions_12m": i % 3}
        for i in range(n)
    ]  # fmt: skip


async def test_batch_then_segmentation_run_starts_callbacks(stack: Stack) -> None:
    ndjson = "\n".join(json.dumps(r) for r in _population(60))
    bad = json.dumps({"customer_id": "BAD 1", "overdue_days": -1})
    r = await stack.http.post(
        "/v1/customers:batch",
        content=ndjson + "\n" + bad,
        headers={"Content-Type": "application/x-ndjson", **stack.auth("crm")},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["received"], body["stored"], body["failed"]) == (61, 60, 1)
    failed = body["results"][60]
    assert not failed["ok"] and {e["path"] for e in failed["errors"]} >= {"customer_id"}

    # before any population run there are no cut points: everyone is provisionally C
    page = (
        await stack.call("GET", "/v1/customers", "crm", params={"abc_class": "C", "limit": 100})
    ).json()
    assert len(page["items"]) == 60
    first = await population_run(stack, batch_size=100, parallelism=2)
    assert (first["done"], first["changed"], first["batches_done"]) == (60, 12, 1)
    assert first["customers_per_second"] > 0 and first["eta_seconds"] == 0
    # the run ranked everyone at once: 3 A (ceil 5% of 60), 9 more B (ceil 20% = 12)
    page = (
        await stack.call("GET", "/v1/customers", "crm", params={"abc_class": "B", "limit": 100})
    ).json()
    assert [c["customer_id"] for c in page["items"]] == [f"P{i:04d}" for i in range(3, 12)]

    # a change in the metric is classified against the run's cut points at once, and applied
    # to everyone by the next run
    r = await stack.call(
        "PUT",
        "/v1/customers/P0059",
        "crm",
        json={"tariff": "residential", "annual_revenue": 5000.0},
    )
    assert r.json()["abc_class"] == "A"
    progress = await population_run(stack, batch_size=100, parallelism=2)
    assert progress["done"] == 60 and progress["batches"] == 1
    # P0002 dropped from A to B (P0059 took its place); P0011 dropped from B to C
    assert progress["changed"] == 2
    # P0011 left class B: its call-back and its periodic visits are told to stop; P0002
    # left class A: its A-only scheduled processes (key-account meeting, ...) too
    assert progress["processes_stopped"] == 4
    c = (await stack.call("GET", "/v1/customers/P0002", "crm")).json()
    assert c["assignment"]["abc_class"] == "B"
    assert c["explanation"]["policy_version"] == c["assignment"]["policy_version"]


async def test_keyset_batches_continue_as_new_and_cut_points(stack: Stack) -> None:
    body = "\n".join(json.dumps(r) for r in _population(250))
    r = await stack.http.post(
        "/v1/customers:batch",
        content=body,
        headers={"Content-Type": "application/x-ndjson", **stack.auth("crm")},
    )
    assert r.json()["stored"] == 250
    # one batch per workflow run: the run continues-as-new twice and keeps its totals
    handle = await stack.temporal.start_workflow(
        "segmentation_run",
        SegmentationRunInput("KS1", "crm.test", batch_size=100, parallelism=2, batches_per_run=1),
        id="segmentation:KS1",
        task_queue=stack.settings.control_queue,
        result_type=SegmentationProgress,
    )
    result = await handle.result()
    assert (result.done, result.batches, result.batches_done, result.runs) == (250, 3, 3, 3)
    # the upserts stored everyone as provisional C; the run moved the 13 A and 37 B
    assert result.changed == 50 and result.total == 250
    sessions = db.session_factory(db.make_engine(stack.settings.store_url))
    with sessions() as s:
        batches = s.scalars(select(SegmentationBatch).where(SegmentationBatch.run_id == "KS1"))
        rows = [(b.seq, b.lo, b.hi, b.status, b.customers) for b in batches]
        assert rows == [(0, "P0000", "P0100", "done", 100), (1, "P0100", "P0200", "done", 100),
                        (2, "P0200", None, "done", 50)]  # fmt: skip
        points = s.scalars(select(AbcCutPoint).where(AbcCutPoint.run_id == "KS1")).all()
        # ceil(5% of 250) = 13 -> P0012 is the last A; ceil(20%) = 50 -> P0049 the last B
        assert {(p.abc_class, p.rank, p.customer_id, p.metric) for p in points} == {
            ("A", 12, "P0012", 988.0), ("B", 49, "P0049", 951.0)}  # fmt: skip
        classes = dict(s.execute(select(Assignment.customer_id, Assignment.abc_class)).all())
    assert [classes[f"P{i:04d}"] for i in (12, 13, 49, 50)] == ["A", "B", "B", "C"]
    # the API shows the run with rate and ETA
    progress = (await stack.call("GET", "/v1/segmentation-runs/KS1", "auditor")).json()
    assert progress["status"] == "completed" and progress["eta_seconds"] == 0
    # a customer pushed now is classified against those cut points at once
    # ties on the metric order by customer id: "N..." < "P0012" (A), "Q..." > "P0012" (B)
    r = await stack.call("PUT", "/v1/customers/N1", "crm", json={"annual_revenue": 988.0})
    assert r.json()["abc_class"] == "A"
    r = await stack.call("PUT", "/v1/customers/Q1", "crm", json={"annual_revenue": 988.0})
    assert r.json()["abc_class"] == "B"
