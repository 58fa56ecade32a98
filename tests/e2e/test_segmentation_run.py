"""A CRM pushes a population, runs a segmentation, and sees processes start."""

from __future__ import annotations

import asyncio
import json

from tests.e2e.conftest import Stack


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

    # the batch ranked everyone at once: 3 A (ceil 5% of 60), 9 more B (ceil 20% = 12)
    page = (
        await stack.call("GET", "/v1/customers", "crm", params={"abc_class": "B", "limit": 100})
    ).json()
    assert [c["customer_id"] for c in page["items"]] == [f"P{i:04d}" for i in range(3, 12)]

    # a change in the metric is applied to everyone by a segmentation run
    r = await stack.call(
        "PUT",
        "/v1/customers/P0059",
        "crm",
        json={"tariff": "residential", "annual_revenue": 5000.0},
    )
    assert r.json()["abc_class"] == "A"
    start = await stack.call(
        "POST", "/v1/segmentation-runs", "crm", json={"batch_size": 100, "parallelism": 2}
    )
    assert start.status_code == 202, start.text
    url = start.json()["status_url"]
    for _ in range(100):
        progress = (await stack.call("GET", url, "crm")).json()
        if progress["status"] == "completed":
            break
        await asyncio.sleep(0.1)
    assert progress["status"] == "completed", progress
    assert progress["done"] == 60 and progress["batches"] == 1
    # P0002 dropped from A to B (P0059 took its place); P0011 dropped from B to C
    assert progress["changed"] == 2
    # P0011 left class B: its call-back and its periodic visits are told to stop
    assert progress["processes_stopped"] == 2
    c = (await stack.call("GET", "/v1/customers/P0002", "crm")).json()
    assert c["assignment"]["abc_class"] == "B"
    assert c["explanation"]["policy_version"] == c["assignment"]["policy_version"]
