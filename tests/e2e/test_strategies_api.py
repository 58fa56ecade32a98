"""Strategies through the API on the real dev server: a key account's request reaching its
named manager ahead of the queue and going back to the queue when the manager is away; the
points ledger (opening balance from the CRM, earn on a top-up, a CRM PUT that cannot reset
it, redemptions with balance checks and idempotency keys)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.conftest import Stack


async def _until(stack: Stack, role: str, url: str, check: Any, **params: Any) -> Any:
    body: Any = None
    for _ in range(150):
        body = (await stack.call("GET", url, role, params=params)).json()
        if check(body):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never satisfied the check: {body}")


async def test_key_account_task_reaches_its_manager(stack: Stack) -> None:
    manager = stack.tokens["agent"]["principal"]
    r = await stack.call("PUT", "/v1/customers/KA1", "crm", json={
        "important_registered": True, "annual_revenue": 5e6,
        "contacts": {"phone": "+86 1", "account_manager": manager}})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["actions"]["account_manager"] is True
    ev = await stack.call("POST", "/v1/events", "crm", json={
        "event_id": "ka-1", "type": "service_request", "customer_id": "KA1",
        "data": {"request_id": "REQ1", "subject": "capacity_change"}})  # fmt: skip
    assert ev.status_code == 200, ev.text
    [task] = await _until(
        stack, "agent", "/v1/tasks", bool, customer_id="KA1", kind="service_request"
    )
    assert task["assignee"] == manager and task["priority"] == 30
    assert task["context"]["routing"] == "named account manager"
    due = datetime.fromisoformat(task["due_at"]) - datetime.now(UTC)
    assert timedelta(hours=23) < due <= timedelta(hours=24)  # the key-account SLA
    # the manager goes on leave: the open task goes back to the agent queue
    until = (datetime.now(UTC) + timedelta(days=5)).isoformat()
    away = await stack.call("POST", f"/v1/managers/{manager}/away", "supervisor",
                            json={"until": until, "reason": "leave"})  # fmt: skip
    assert away.status_code == 200, away.text
    assert away.json()["returned_to_queue"] >= 1  # the request (and any visit work order)
    back = (await stack.call("GET", f"/v1/tasks/{task['task_id']}", "supervisor")).json()
    assert back["assignee"] is None and back["queue"] == "agent"
    bad = await stack.call("POST", "/v1/managers/nobody/away", "supervisor",
                           json={"until": until})  # fmt: skip
    assert bad.status_code == 404
    past = await stack.call("POST", f"/v1/managers/{manager}/away", "supervisor",
                            json={"until": "2020-01-01T00:00:00+00:00"})  # fmt: skip
    assert past.status_code == 422 and past.json()["errors"][0]["path"] == "body.until"
    assert (
        await stack.call("DELETE", f"/v1/managers/{manager}/away", "supervisor")
    ).status_code == 200


async def test_points_ledger_through_the_api(stack: Stack) -> None:
    manager = {"account_manager": stack.tokens["agent"]["principal"]}
    other = await stack.call("PUT", "/v1/customers/PT0", "crm", json={"tariff": "residential"})
    assert other.status_code == 200
    # an agent serves customers it manages or has a task for: others are not found
    assert (await stack.call("GET", "/v1/customers/PT0/points", "agent")).status_code == 404
    put = await stack.call("PUT", "/v1/customers/PT1", "crm",
                           json={"tariff": "residential", "points_12m": 1200,
                                 "contacts": manager})  # fmt: skip
    assert put.status_code == 200, put.text
    got = (await stack.call("GET", "/v1/customers/PT1/points", "agent")).json()
    assert (got["balance"], got["points_12m"], got["tier"]) == (1200, 1200, "silver")
    assert got["movements"][0]["kind"] == "opening"
    ev = await stack.call("POST", "/v1/events", "crm", json={
        "event_id": "pt-1", "type": "payment_received", "customer_id": "PT1",
        "data": {"amount": 1000, "channel": "online", "payment_id": "P1"}})  # fmt: skip
    assert ev.status_code == 200 and ev.json()["points_booked"] is True, ev.text
    # the CRM sends its stale figure again: the ledger keeps segflow's
    stale = {"tariff": "residential", "points_12m": 0, "contacts": manager}
    await stack.call("PUT", "/v1/customers/PT1", "crm", json=stale)
    got = (await stack.call("GET", "/v1/customers/PT1/points", "agent")).json()
    assert (got["balance"], got["points_12m"]) == (4200, 4200)
    url = "/v1/customers/PT1/points/redemptions"
    red = await stack.call("POST", url, "agent", json={"key": "r1", "bill_credit_yuan": 10})
    assert red.status_code == 201 and red.json()["balance"] == 3200, red.text
    again = await stack.call("POST", url, "agent", json={"key": "r1", "bill_credit_yuan": 10})
    assert again.json()["duplicate"] is True and again.json()["points"] == -1000
    short = await stack.call("POST", url, "agent", json={"key": "r2", "service": "priority_repair"})
    assert short.status_code == 409 and short.json()["errors"][0]["code"] == "insufficient"
    two = {"key": "r3", "service": "energy_audit", "bill_credit_yuan": 1}
    both = await stack.call("POST", url, "agent", json=two)
    assert both.status_code == 422
    unknown = await stack.call("POST", url, "agent", json={"key": "r4", "service": "spa_day"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["path"] == "body.service"
    assert (
        await stack.call("POST", url, "auditor", json={"key": "r5", "bill_credit_yuan": 1})
    ).status_code == 403
    got = (await stack.call("GET", "/v1/customers/PT1/points", "auditor")).json()
    assert got["balance"] == 3200 and [m["kind"] for m in got["movements"]][:1] == ["redeem"]


async def test_kpis_json_and_csv(stack: Stack) -> None:
    await stack.call("PUT", "/v1/customers/KP1", "crm", json={"important_registered": True})
    ev = await stack.call("POST", "/v1/events", "crm", json={
        "event_id": "kp-1", "type": "service_request", "customer_id": "KP1",
        "data": {"request_id": "REQ1", "subject": "billing"}})  # fmt: skip
    assert ev.status_code == 200, ev.text
    [task] = await _until(
        stack, "supervisor", "/v1/tasks", bool, customer_id="KP1", kind="service_request"
    )
    done = await stack.call("POST", f"/v1/tasks/{task['task_id']}/complete", "supervisor",
                            json={"result": {"outcome": "resolved"}})  # fmt: skip
    assert done.status_code == 200, done.text
    body = await _until(stack, "auditor", "/v1/kpis", lambda b: b.get("rows"),
                        segment="category", period="day")  # fmt: skip
    [row] = [r for r in body["rows"] if r["segment"] == "important"]
    assert (row["sla_met"], row["sla_compliance"]) == (1, 1.0)
    assert "sla_compliance" in body["definitions"]
    csv = await stack.call("GET", "/v1/kpis", "auditor", params={"segment": "category",
                                                                  "format": "csv"})  # fmt: skip
    assert csv.headers["content-type"].startswith("text/csv")
    header, *lines = csv.text.strip().splitlines()
    assert header.startswith("period,segment,callback_opened") and any(
        "important" in x for x in lines
    )
    bad = await stack.call("GET", "/v1/kpis", "auditor", params={"period": "year"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "query.period"
    assert (await stack.call("GET", "/v1/kpis", "agent")).status_code == 403


async def test_new_installation_checks_old_arrears_and_fits_prepayment(stack: Stack) -> None:
    await stack.call("PUT", "/v1/customers/NI1", "crm",
                     json={"tariff": "residential", "arrears_amount": 120.5})  # fmt: skip
    body = {"event_id": "ni-1", "type": "new_installation", "customer_id": "NI1",
            "data": {"application_id": "APP1"}}  # fmt: skip
    r = await stack.call("POST", "/v1/events", "crm", json=body)
    assert r.status_code == 200, r.text
    got = r.json()["new_installation"]
    # class C (prepayment_recommended) with old arrears: blocked until cleared, prepayment meter
    assert got == {"application_id": "APP1", "old_arrears": 120.5, "blocked": True,
                   "prepayment_meter": True}  # fmt: skip
    bad = await stack.call("POST", "/v1/events", "crm", json={**body, "event_id": "ni-2",
                                                              "data": {}})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "data.application_id"
