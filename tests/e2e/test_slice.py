"""The vertical slice on the real dev server: customer -> call-back -> task -> Update -> history."""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import Stack, population_run

B_CUSTOMER = {
    "name": "Li household",
    "tariff": "residential",
    "capacity_kva": 8.0,
    "annual_revenue": 800.0,
    "contacts": {"phone": "+86 139 0000 0001"},
}


async def _wait_for_tasks(stack: Stack, role: str, **params: str) -> list[dict]:  # type: ignore[type-arg]
    for _ in range(100):
        r = await stack.call("GET", "/v1/tasks", role, params=params)
        assert r.status_code == 200, r.text
        if r.json():
            return r.json()  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no task appeared for {role} {params}")


async def test_customer_to_callback_task_to_history(stack: Stack) -> None:
    # population: one big revenue customer ranks A, ours ranks B among 20 (ceil 5% / 20%)
    for i in range(18):
        rec = {"tariff": "residential", "annual_revenue": float(10 + i)}
        r = await stack.call("PUT", f"/v1/customers/R{i:02d}", "crm", json=rec)
        assert r.status_code == 200, r.text
    r = await stack.call("PUT", "/v1/customers/TOP", "crm", json={"annual_revenue": 1e7})
    # no population run yet: no cut points, every class provisional (the rest class)
    assert r.json()["abc_class"] == "C"
    await population_run(stack)
    r = await stack.call("GET", "/v1/customers/TOP", "crm")
    assert r.json()["assignment"]["abc_class"] == "A"
    # a new customer is classified against the run's cut points (A: TOP, B: down to 25.0)
    r = await stack.call("PUT", "/v1/customers/CB1", "crm", json=B_CUSTOMER)
    assert r.status_code == 200, r.text
    assignment = r.json()
    assert assignment["abc_class"] == "B" and "callback" in assignment["processes"]

    tasks = await _wait_for_tasks(stack, "agent", customer_id="CB1", kind="callback_call")
    [task] = tasks
    assert task["kind"] == "callback_call" and task["workflow_id"] == "callback:CB1"

    # invalid payload: 422 naming the path; nothing reaches the workflow
    bad = await stack.call(
        "POST",
        f"/v1/tasks/{task['task_id']}/complete",
        "agent",
        json={"result": {"outcome": "contact_updated"}},
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    # the outcome makes `contacts` required: the issue sits at that field, with a code
    [issue] = bad.json()["errors"]
    assert (issue["path"], issue["code"]) == ("contacts", "missing"), issue

    body = {"result": {"outcome": "contact_updated", "contacts": {"phone": "+86 139 1111 2222"}}}
    done = await stack.call("POST", f"/v1/tasks/{task['task_id']}/complete", "agent", json=body)
    assert done.status_code == 200, done.text
    assert done.json()["task"]["status"] == "completed"
    again = await stack.call("POST", f"/v1/tasks/{task['task_id']}/complete", "agent", json=body)
    assert again.status_code == 200 and again.json()["task"]["result"] == body["result"]
    other = {"result": {"outcome": "verified"}}
    conflict = await stack.call(
        "POST", f"/v1/tasks/{task['task_id']}/complete", "agent", json=other
    )
    assert conflict.status_code == 409

    # the write-back reached the customer record
    for _ in range(50):
        c = await stack.call("GET", "/v1/customers/CB1", "crm")
        if c.json()["record"]["contacts"].get("phone") == "+86 139 1111 2222":
            break
        await asyncio.sleep(0.1)
    assert c.json()["record"]["contacts"]["phone"] == "+86 139 1111 2222"

    h = await stack.call("GET", "/v1/workflows/callback:CB1/history", "auditor")
    assert h.status_code == 200, h.text
    events = [(e["event"], e["who"]) for e in h.json()["entries"]]
    assert ("workflow started: callback", None) in events
    assert ("update: complete_task", "agent.li") in events
    assert ("task.completed", "agent.li") in events
    # the completion is one step: inbox row closed, contacts written back, next plan read
    assert any(e == "step: callback_finish" for e, _ in events)


async def test_roles_are_enforced(stack: Stack) -> None:
    r = await stack.http.put("/v1/customers/X1", json={})
    assert r.status_code == 401
    r = await stack.call("PUT", "/v1/customers/X1", "agent", json={})
    assert r.status_code == 403
    # agents read only workflows they have a task in: another one is as good as absent
    r = await stack.call("GET", "/v1/workflows/callback:none/history", "agent")
    assert r.status_code == 404
    r = await stack.call("GET", "/v1/workflows/callback:none/history", "policy_owner")
    assert r.status_code == 403
    r = await stack.call("PUT", "/v1/customers/X1", "crm", json={"overdue_days": "50"})
    assert r.status_code == 422
    assert any(e["path"] == "overdue_days" for e in r.json()["errors"])


async def test_key_account_gets_a_visit_work_order(stack: Stack) -> None:
    r = await stack.call(
        "PUT",
        "/v1/customers/KA1",
        "crm",
        json={"important_registered": True, "annual_revenue": 9e6},
    )
    assert r.status_code == 200, r.text
    assert "key_account_visit" in r.json()["processes"]
    tasks = await _wait_for_tasks(stack, "agent", customer_id="KA1", kind="key_account_visit")
    assert tasks[0]["workflow_id"] == "visit:KA1"
    # leaving the segment stops the process: the open visit task is cancelled
    await stack.call("PUT", "/v1/customers/BIG", "crm", json={"annual_revenue": 1e9})
    await population_run(stack)
    r = await stack.call("PUT", "/v1/customers/KA1", "crm", json={"annual_revenue": 1.0})
    assert r.json()["abc_class"] == "C"
    assert "key_account_visit" not in r.json()["processes"]
    for _ in range(100):
        t = await stack.call("GET", f"/v1/tasks/{tasks[0]['task_id']}", "auditor")
        if t.json()["status"] == "cancelled":
            break
        await asyncio.sleep(0.1)
    assert t.json()["status"] == "cancelled"
