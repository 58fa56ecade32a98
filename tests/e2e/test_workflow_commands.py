"""Starting and signalling workflows through the API: the refusals (unknown kind, bad input,
unknown customer, unknown signal, wrong workflow, bad payload, no such workflow) and an
idempotent start, each with the audit entry only when something was done."""

from __future__ import annotations

from tests.e2e.conftest import Stack


async def test_start_refusals_and_idempotent_start(stack: Stack) -> None:
    r = await stack.call("POST", "/v1/workflows/nosuch", "crm", json={})
    assert r.status_code == 404 and "kind is one of" in r.json()["detail"], r.text
    r = await stack.call("POST", "/v1/workflows/closure", "crm", json={"customer_id": 5})
    assert r.status_code == 422 and r.json()["title"] == "Invalid input", r.text
    assert [e["path"] for e in r.json()["errors"]] == ["customer_id"]
    r = await stack.call("POST", "/v1/workflows/closure", "crm", json={"customer_id": "WC-0"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["message"] == "unknown customer"
    ok = await stack.call("PUT", "/v1/customers/WC-1", "crm", json={"tariff": "residential"})
    assert ok.status_code == 200, ok.text
    first = await stack.call("POST", "/v1/workflows/closure", "crm", json={"customer_id": "WC-1"})
    assert first.status_code == 201, first.text
    assert first.json()["workflow_id"] == "closure:WC-1"
    again = await stack.call("POST", "/v1/workflows/closure", "crm", json={"customer_id": "WC-1"})
    assert again.status_code == 201 and again.json()["run_id"] == first.json()["run_id"]
    started = await stack.call(
        "GET", "/v1/audit", "auditor", params={"action": "workflow.started", "customer_id": "WC-1"}
    )
    # the API records each accepted start (the workflow records its own start as well)
    assert len([e for e in started.json() if e["actor"] != "workflow"]) == 2


async def test_signal_refusals(stack: Stack) -> None:
    body = {"payload": {}}
    r = await stack.call("POST", "/v1/workflows/closure:X/signals/leave", "crm", json=body)
    assert r.status_code == 422 and r.json()["title"] == "Unknown signal", r.text
    assert r.json()["errors"][0]["path"] == "path.name"
    r = await stack.call("POST", "/v1/workflows/hazard:X/signals/case_settled", "crm", json=body)
    assert r.status_code == 422 and r.json()["title"] == "Wrong workflow", r.text
    assert r.json()["errors"][0]["path"] == "path.workflow_id"
    bad = {"payload": {"amount_paid": -1}}
    r = await stack.call("POST", "/v1/workflows/closure:X/signals/case_settled", "crm", json=bad)
    assert r.status_code == 422 and r.json()["title"] == "Invalid signal", r.text
    assert r.json()["errors"][0]["path"] == "body.payload.amount_paid"
    r = await stack.call(
        "POST", "/v1/workflows/closure:NOPE/signals/case_settled", "crm", json=body
    )
    assert r.status_code == 404 and "no running workflow" in r.json()["detail"], r.text
    signalled = await stack.call(
        "GET", "/v1/audit", "auditor", params={"action": "workflow.signal."}
    )
    assert signalled.json() == []
