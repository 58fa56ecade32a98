"""Policy owners upload, preview and activate; auditors verify and export the chain;
operations read health, readiness and metrics."""

from __future__ import annotations

import json

from config import ROOT
from tests.e2e.conftest import Stack, population_run


def _shipped() -> dict[str, str]:
    return {p.name: p.read_text() for p in (ROOT / "policies").glob("*.yaml")}


async def test_upload_impact_activate_rollback(stack: Stack) -> None:
    population = [
        {"customer_id": f"Q{i:02d}", "tariff": "residential", "points_12m": 900 + i * 10}
        for i in range(20)
    ]
    r = await stack.call("POST", "/v1/customers:batch", "crm", json=population)
    assert r.json()["stored"] == 20
    await population_run(stack)  # classes are final after a run (impact compares with them)
    files = _shipped()
    broken = {**files, "segments.yaml": files["segments.yaml"].replace("op: gte", "op: gtee", 1)}
    r = await stack.call("POST", "/v1/policies", "policy_owner", json={"files": broken})
    assert r.status_code == 422
    err = r.json()["errors"][0]
    assert err["file"] == "segments.yaml" and err["line"] > 0 and "gtee" in err["message"]

    # silver starts at 950 points instead of 1000
    files["segments.yaml"] = files["segments.yaml"].replace("value: 1000", "value: 950", 1)
    r = await stack.call("POST", "/v1/policies", "policy_owner", json={"files": files})
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    again = await stack.call("POST", "/v1/policies", "policy_owner", json={"files": files})
    assert again.json()["version"] == version

    impact = (await stack.call("POST", f"/v1/policies/{version}/impact", "policy_owner")).json()
    tiers = {(t["from"], t["to"]): t["count"] for t in impact["transitions"]["points_tier"]}
    assert tiers[("standard", "silver")] == 5  # 950..990 points move up
    assert impact["changed"] == 5

    r = await stack.call("POST", f"/v1/policies/{version}/activate", "policy_owner")
    assert r.json()["status"] == "active"
    r = await stack.call(
        "PUT", "/v1/customers/Q05", "crm", json={"tariff": "residential", "points_12m": 950}
    )
    assert r.json()["points_tier"] == "silver" and r.json()["policy_version"] == version
    back = await stack.call("POST", "/v1/policies/rollback", "policy_owner")
    assert back.status_code == 200 and back.json()["version"] != version
    listed = (await stack.call("GET", "/v1/policies", "auditor")).json()
    assert {p["status"] for p in listed} == {"active", "retired"}


async def test_audit_chain_search_verify_export(stack: Stack) -> None:
    await stack.call(
        "PUT",
        "/v1/customers/AU1",
        "crm",
        json={"tariff": "residential"},
        headers={"X-Request-Id": "req-au1"},
    )
    found = (await stack.call("GET", "/v1/audit", "auditor", params={"customer_id": "AU1"})).json()
    assert found[0]["action"] == "customer.created" and found[0]["request_id"] == "req-au1"
    assert found[0]["actor"] == "crm.system"
    ok = (await stack.call("GET", "/v1/audit/verify", "auditor")).json()
    assert ok["ok"] and ok["entries"] >= 2
    export = await stack.call("GET", "/v1/audit/export", "auditor", params={"action": "policy."})
    lines = [json.loads(x) for x in export.text.splitlines()]
    assert lines and all(x["action"].startswith("policy.") for x in lines)
    assert lines == sorted(lines, key=lambda x: x["seq"])
    denied = await stack.call("PUT", "/v1/customers/AU1", "auditor", json={})
    assert denied.status_code == 403  # auditors read only


async def test_health_ready_metrics(stack: Stack) -> None:
    assert (await stack.http.get("/healthz")).json() == {"status": "ok"}
    ready = await stack.http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["temporal"] == "ok"
    await stack.call("PUT", "/v1/customers/M1", "crm", json={"annual_revenue": 5.0})
    assert (await stack.http.get("/metrics")).status_code == 401
    assert (await stack.call("GET", "/metrics", "crm")).status_code == 403
    text = (await stack.call("GET", "/metrics", "auditor")).text
    assert 'segflow_http_requests_total{method="PUT",route="/v1/customers/{customer_id}"' in text
    assert "segflow_tasks_open" in text and "segflow_http_request_seconds_bucket" in text
