"""One path per event-driven process through the API on the real dev server: a key
account's service request answered within the SLA, and a planned outage that opens the
pre-negotiation task for an important customer and notifies every customer on the feeder."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.conftest import Stack


async def _until(stack: Stack, role: str, url: str, check: Any, **params: Any) -> Any:
    for _ in range(150):
        body = (await stack.call("GET", url, role, params=params)).json()
        if check(body):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never satisfied the check: {body}")


async def test_service_request_answered_within_the_sla(stack: Stack) -> None:
    r = await stack.call(
        "PUT",
        "/v1/customers/SR1",
        "crm",
        json={"important_registered": True, "annual_revenue": 5e6},
    )
    assert r.json()["processes"]["service_request"] == {"response_sla_hours": 24}
    ev = await stack.call(
        "POST",
        "/v1/events",
        "crm",
        json={
            "event_id": "sr-1",
            "type": "service_request",
            "customer_id": "SR1",
            "data": {"request_id": "REQ1", "subject": "capacity_change"},
        },
    )
    assert ev.json()["routed_to"] == ["service_request:SR1:REQ1"], ev.text
    [task] = await _until(stack, "agent", "/v1/tasks", bool, kind="service_request")
    due = datetime.fromisoformat(task["due_at"])
    assert timedelta(hours=23) < due - datetime.now(UTC) <= timedelta(hours=24)
    done = await stack.call(
        "POST",
        f"/v1/tasks/{task['task_id']}/complete",
        "agent",
        json={"result": {"outcome": "resolved"}},
    )
    assert done.status_code == 200, done.text
    wf = await _until(
        stack, "crm", "/v1/workflows/service_request:SR1:REQ1", lambda b: b["status"] == "COMPLETED"
    )
    assert wf["type"] == "service_request"
    timeline = (
        await stack.call("GET", "/v1/workflows/service_request:SR1:REQ1/history", "auditor")
    ).json()
    results = [e["detail"] for e in timeline["entries"] if e["event"] == "workflow completed"]
    assert results and results[0]["result"][0]["outcome"] == "met"


async def test_planned_outage_negotiates_and_notifies_the_feeder(stack: Stack) -> None:
    await stack.call(
        "PUT",
        "/v1/customers/OUT-H",
        "crm",
        json={"important_registered": True, "feeder_id": "F-E2E", "contacts": {"phone": "+86 1"}},
    )
    await stack.call(
        "PUT",
        "/v1/customers/OUT-R",
        "crm",
        json={
            "tariff": "residential",
            "feeder_id": "F-E2E",
            "contacts": {"phone": "+86 2", "sms_opt_in": True},
        },
    )
    start = datetime.now(UTC) + timedelta(days=10)
    ev = await stack.call(
        "POST",
        "/v1/events",
        "crm",
        json={
            "event_id": "out-1",
            "type": "planned_outage",
            "data": {
                "feeder_id": "F-E2E",
                "outage_id": "O1",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=4)).isoformat(),
            },
        },
    )
    assert ev.status_code == 200, ev.text
    assert ev.json()["routed_to"] == ["outage:F-E2E:O1"]
    [task] = await _until(stack, "agent", "/v1/tasks", bool, kind="outage_pre_negotiation")
    assert task["customer_id"] == "OUT-H"  # only the important customer negotiates
    await stack.call(
        "POST",
        f"/v1/tasks/{task['task_id']}/complete",
        "agent",
        json={"result": {"outcome": "agreed"}},
    )
    wf = await _until(
        stack,
        "crm",
        "/v1/workflows/outage:F-E2E:O1",
        lambda b: b.get("state") and b["state"]["stage"] != "pre_negotiation",
    )
    assert wf["status"] == "RUNNING"  # waits for the notice times and the outage itself


async def test_inspectors_see_and_complete_only_their_own_tasks(stack: Stack) -> None:
    await stack.call("PUT", "/v1/customers/HZ1", "crm", json={"open_hazards": 1})
    for event_id, etype, data in [
        ("hz-1", "inspection_findings", {"inspection_id": "I1", "hazards": [
            {"hazard_id": "H1", "description": "exposed busbar", "severity": "critical"}]}),
        ("hz-2", "rectification_reported", {"inspection_id": "I1", "hazard_ids": ["H1"]}),
    ]:  # fmt: skip
        if etype == "rectification_reported":  # the round must be waiting for the report
            await _until(
                stack,
                "crm",
                "/v1/workflows/hazard:HZ1:I1",
                lambda b: b.get("state") and b["state"]["stage"].startswith("rectification"),
            )
        r = await stack.call(
            "POST",
            "/v1/events",
            "crm",
            json={"event_id": event_id, "type": etype, "customer_id": "HZ1", "data": data},
        )
        assert r.status_code == 200, r.text
    [task] = await _until(stack, "inspector", "/v1/tasks", bool, kind="reinspection")
    claimed = await stack.call("POST", f"/v1/tasks/{task['task_id']}/claim", "inspector")
    assert claimed.json()["assignee"] == "inspector.wang"
    assert (
        await stack.call("GET", "/v1/tasks", "inspector_2", params={"kind": "reinspection"})
    ).json() == []
    peek = await stack.call("GET", f"/v1/tasks/{task['task_id']}", "inspector_2")
    assert peek.status_code == 403
    result = {"result": {"results": [{"hazard_id": "H1", "fixed": True}]}}
    steal = await stack.call(
        "POST", f"/v1/tasks/{task['task_id']}/complete", "inspector_2", json=result
    )
    assert steal.status_code == 403
    done = await stack.call(
        "POST", f"/v1/tasks/{task['task_id']}/complete", "inspector", json=result
    )
    assert done.status_code == 200, done.text
    await _until(stack, "crm", "/v1/workflows/hazard:HZ1:I1", lambda b: b["status"] == "COMPLETED")


async def test_completion_refusals_are_data(stack: Stack) -> None:
    """A refused completion names each value by path and code (the kind's model decides); a
    task whose workflow has ended is a 409 (Temporal's
    NOT_FOUND status, not its message), and the task stays open in the store."""
    await stack.call("PUT", "/v1/customers/CLR", "crm", json={"tariff": "residential"})
    ev = {"event_id": "clr-1", "type": "closure_requested", "customer_id": "CLR",
          "data": {"request_id": "R1"}}  # fmt: skip
    assert (await stack.call("POST", "/v1/events", "crm", json=ev)).status_code == 200
    [task] = await _until(stack, "supervisor", "/v1/tasks", bool, customer_id="CLR")
    assert task["kind"] == "final_meter_reading", task  # a residential closure reads first
    url = f"/v1/tasks/{task['task_id']}/complete"
    bad = {"result": {"outcome": "read", "reading_kwh": "12", "seal": "broken"}}
    r = await stack.call("POST", url, "supervisor", json=bad)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert {(e["path"], e["code"]) for e in r.json()["errors"]} == {
        ("reading_kwh", "float_type"),
        ("seal", "extra_forbidden"),
    }, r.json()
    r = await stack.call("POST", url, "supervisor", json={"result": {"outcome": "estimated"}})
    assert [(e["path"], e["code"]) for e in r.json()["errors"]] == [("reading_kwh", "missing")]
    # the schema the API publishes says the same
    assert task["completion_schema"]["required"] == ["outcome", "reading_kwh"]

    await stack.temporal.get_workflow_handle(task["workflow_id"]).terminate("test: gone")
    done = {"result": {"outcome": "read", "reading_kwh": 1234.5}}
    r = await stack.call("POST", url, "supervisor", json=done)
    assert r.status_code == 409 and "no longer running" in r.json()["detail"], r.text
    left = await stack.call("GET", f"/v1/tasks/{task['task_id']}", "supervisor")
    assert left.json()["status"] in ("open", "claimed")
