"""Every /v1 endpoint called by every role: allowed roles get through, the rest 403, no
token 401. A new endpoint missing from ALLOWED fails the test, so the matrix stays whole.
Object-level cases below (OWASP API1), on SQLite and PostgreSQL: agents and inspectors read
only the customers, tasks and workflows they have a task for, in the API and in the pages; a
supervisor, auditor and the CRM read all; every refusal is a 403/404 showing nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from store.models import Task
from tests.e2e.conftest import Stack
from tests.hostile.fixtures import hostile_store, hstack  # noqa: F401 (the fixtures)

ROLES = ("policy_owner", "crm", "agent", "inspector", "supervisor", "auditor", "admin")
READ_ALL = {"auditor", "supervisor"}
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("PUT", "/v1/customers/{customer_id}"): {"crm"},
    ("GET", "/v1/customers/{customer_id}"): {"crm", "agent", "inspector"} | READ_ALL,
    ("POST", "/v1/customers:batch"): {"crm"},
    ("GET", "/v1/customers"): {"crm"} | READ_ALL,
    ("POST", "/v1/events"): {"crm"},
    ("GET", "/v1/tasks"): {"agent", "inspector"} | READ_ALL,
    ("GET", "/v1/tasks/{task_id}"): {"agent", "inspector"} | READ_ALL,
    ("POST", "/v1/tasks/{task_id}/claim"): {"agent", "inspector", "supervisor"},
    ("POST", "/v1/tasks/{task_id}/complete"): {"agent", "inspector", "supervisor"},
    ("POST", "/v1/tasks/{task_id}/reassign"): {"supervisor"},
    ("GET", "/v1/workflows"): {"crm"} | READ_ALL,
    ("GET", "/v1/workflows/{workflow_id}"): {"crm", "agent", "inspector"} | READ_ALL,
    ("GET", "/v1/workflows/{workflow_id}/history"): {"crm", "agent", "inspector"} | READ_ALL,
    ("POST", "/v1/workflows/{kind}"): {"crm", "supervisor"},
    ("POST", "/v1/workflows/{workflow_id}/signals/{name}"): {"crm", "supervisor"},
    ("POST", "/v1/workflows/{workflow_id}/cancel"): {"supervisor"},
    ("GET", "/v1/policies"): {"policy_owner"} | READ_ALL,
    ("POST", "/v1/policies"): {"policy_owner"},
    ("POST", "/v1/policies/{version}/impact"): {"policy_owner"} | READ_ALL,
    ("POST", "/v1/policies/{version}/activate"): {"policy_owner"},
    ("POST", "/v1/policies/rollback"): {"policy_owner"},
    ("GET", "/v1/policies/{version}/diff"): {"policy_owner"} | READ_ALL,
    ("POST", "/v1/policies/{version}/simulate"): {"policy_owner"} | READ_ALL,
    ("GET", "/v1/policies/{version}/forecast"): {"policy_owner"} | READ_ALL,
    ("POST", "/v1/policies/{version}/stage"): {"policy_owner"},
    ("GET", "/v1/policies/stages/{stage_id}"): {"policy_owner"} | READ_ALL,
    ("POST", "/v1/policies/stages/{stage_id}/widen"): {"policy_owner"},
    ("POST", "/v1/policies/stages/{stage_id}/rollback"): {"policy_owner"},
    ("POST", "/v1/segmentation-runs"): {"crm", "policy_owner"},
    ("GET", "/v1/segmentation-runs/{run_id}"): {"crm", "policy_owner"} | READ_ALL,
    ("GET", "/v1/audit"): READ_ALL,
    ("GET", "/v1/audit/verify"): READ_ALL,
    ("GET", "/v1/audit/export"): READ_ALL,
    ("POST", "/v1/managers/{name}/away"): {"supervisor"},
    ("DELETE", "/v1/managers/{name}/away"): {"supervisor"},
    ("GET", "/v1/customers/{customer_id}/points"): {"crm", "agent"} | READ_ALL,
    ("POST", "/v1/customers/{customer_id}/points/redemptions"): {"agent", "crm", "supervisor"},
    ("POST", "/v1/points/expiry"): {"supervisor"},
    ("GET", "/v1/kpis"): {"policy_owner"} | READ_ALL,
    ("GET", "/v1/feeders/{feeder_id}/outage-plan"): READ_ALL,
    ("POST", "/v1/customers/{customer_id}/registrations"): {"crm", "supervisor"},
    ("POST", "/v1/registrations/{registration_id}/review"): {"supervisor"},
    ("POST", "/v1/customers/{customer_id}/holds"): {"crm", "supervisor"},
    ("POST", "/v1/holds/{hold_id}/resolve"): {"crm", "supervisor"},
    ("POST", "/v1/moratoria"): {"supervisor"},
    ("GET", "/v1/disconnections/{workflow_id}/evidence"): READ_ALL,
}
SAMPLE = {
    "customer_id": "NOPE",
    "task_id": "tk_missing",
    "workflow_id": "callback:NOPE",
    "version": "sha256:missing",
    "run_id": "missing",
    "kind": "closure",
    "name": "case_settled",
    "registration_id": "REG-NOPE",
    "hold_id": "H-NOPE",
    "feeder_id": "NOPE",
    "stage_id": "999999",
}


def _routes(stack: Stack) -> list[tuple[str, str]]:
    paths = stack.app.openapi()["paths"]
    return sorted(
        (method.upper(), path) for path, ops in paths.items() if path.startswith("/v1")
        for method in ops
    )  # fmt: skip


async def test_every_endpoint_is_in_the_matrix(stack: Stack) -> None:
    assert set(_routes(stack)) == set(ALLOWED)


@pytest.mark.parametrize("role", [*ROLES, None])
async def test_role_matrix(stack: Stack, role: str | None) -> None:
    for (method, path), allowed in sorted(ALLOWED.items()):
        url = path.format(**SAMPLE)
        headers = stack.auth(role) if role else {}
        r = await stack.http.request(method, url, headers=headers, json={})
        if role is None:
            assert r.status_code == 401, (method, path, r.text)
        elif role in allowed or role == "admin":
            assert r.status_code not in (401, 403), (role, method, path, r.text)
            assert r.status_code < 500, (role, method, path, r.text)
        else:
            assert r.status_code == 403, (role, method, path, r.status_code)


# ---- object level ---------------------------------------------------------------------


def _task(task_id: str, customer: str, queue: str, assignee: str | None, **kw: Any) -> Task:
    return Task(
        task_id=task_id, workflow_id=f"callback:{customer}", kind="callback_call",
        customer_id=customer, queue=queue, assignee=assignee, title="Call",
        due_at=datetime.now(UTC) + timedelta(days=1), status=kw.pop("status", "open"),
        context={}, **kw,
    )  # fmt: skip


async def scenario(stack: Stack) -> None:
    """Customers OA (agent.li holds a task), OB (inspector.wang holds one), OC (nobody's,
    its task sits with inspector.liu), OD (a task in the agent queue, unclaimed),
    OE (agent.li completed a task)."""
    for cid in ("OA", "OB", "OC", "OD", "OE"):
        r = await stack.call("PUT", f"/v1/customers/{cid}", "crm", json={"tariff": "residential"})
        assert r.status_code == 200, r.text
    with stack.app.state.segflow.sessions.begin() as s:
        s.add_all([
            _task("tk_oa", "OA", "agent", "agent.li", status="claimed"),
            _task("tk_ob", "OB", "inspector", "inspector.wang", status="claimed"),
            _task("tk_oc", "OC", "inspector", "inspector.liu", status="claimed"),
            _task("tk_od", "OD", "agent", None),
            _task("tk_oe", "OE", "agent", "agent.li", status="completed",
                  completed_by="agent.li", result={"outcome": "verified"}),
        ])  # fmt: skip


# (role, method, url, allowed?)  allowed: 2xx expected; refused: 403 or 404
CASES: list[tuple[str, str, str, bool]] = [
    ("agent", "GET", "/v1/customers/OA", True),
    ("agent", "GET", "/v1/customers/OD", True),  # a queue task the agent may take
    ("agent", "GET", "/v1/customers/OE", True),  # completed by the agent
    ("agent", "GET", "/v1/customers/OB", False),
    ("agent", "GET", "/v1/customers/OC", False),
    ("agent", "GET", "/v1/customers/NOBODY", False),
    ("inspector", "GET", "/v1/customers/OB", True),
    ("inspector", "GET", "/v1/customers/OA", False),
    ("inspector", "GET", "/v1/customers/OC", False),  # another inspector's task
    ("inspector_2", "GET", "/v1/customers/OC", True),
    ("inspector_2", "GET", "/v1/customers/OB", False),
    ("agent", "GET", "/v1/tasks/tk_oa", True),
    ("agent", "GET", "/v1/tasks/tk_ob", False),
    ("inspector", "GET", "/v1/tasks/tk_oc", False),
    ("agent", "POST", "/v1/tasks/tk_ob/claim", False),
    ("inspector", "POST", "/v1/tasks/tk_oc/claim", False),
    ("inspector", "POST", "/v1/tasks/tk_od/claim", False),  # not the inspector's queue
    ("agent", "POST", "/v1/tasks/tk_oc/complete", False),
    ("agent", "GET", "/v1/workflows/callback:OB/history", False),
    ("inspector", "GET", "/v1/workflows/callback:OA", False),
    ("agent", "GET", "/v1/workflows/callback:OC", False),
    ("supervisor", "GET", "/v1/customers/OC", True),
    ("auditor", "GET", "/v1/customers/OB", True),
    ("crm", "GET", "/v1/customers/OA", True),
    ("auditor", "GET", "/v1/tasks/tk_oc", True),
]


async def test_object_level_access(hstack: Stack) -> None:  # noqa: F811
    stack = hstack
    await scenario(stack)
    assert len(CASES) >= 10
    for role, method, url, allowed in CASES:
        body = {"result": {"outcome": "verified"}} if url.endswith("/complete") else None
        r = await stack.call(method, url, role, json=body)
        if allowed:
            assert r.status_code == 200, (role, method, url, r.status_code, r.text[:300])
        else:
            assert r.status_code in (403, 404), (role, method, url, r.status_code, r.text[:300])
            assert "OB" not in r.text or "OB" in url  # a refusal shows nothing of the object


async def test_lists_only_show_what_the_caller_may_see(hstack: Stack) -> None:  # noqa: F811
    stack = hstack
    await scenario(stack)

    async def ids(role: str, **params: Any) -> set[str]:
        r = await stack.call("GET", "/v1/tasks", role, params=params)
        assert r.status_code == 200, r.text
        return {t["task_id"] for t in r.json()}

    assert await ids("agent") == {"tk_oa", "tk_od"}
    assert await ids("agent", status=["completed"]) == {"tk_oe"}
    assert await ids("agent", customer_id="OB") == set()
    assert await ids("inspector") == {"tk_ob"}
    assert await ids("inspector_2", workflow_id="callback:OB") == set()
    assert await ids("supervisor") == {"tk_oa", "tk_ob", "tk_oc", "tk_od"}


async def test_pages_follow_the_same_rule(hstack: Stack) -> None:  # noqa: F811
    stack = hstack
    await scenario(stack)
    http = stack.http
    page = await http.get("/web/signin")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    token = stack.tokens["agent"]["token"]
    r = await http.post("/web/signin", data={"token": token, "csrf": csrf, "next": "/web/inbox"})
    assert r.status_code in (302, 303), r.text[:300]
    mine = await http.get("/web/tasks/tk_oa")
    assert mine.status_code == 200 and "OA" in mine.text
    other = await http.get("/web/tasks/tk_ob")
    assert other.status_code == 403 and "OB" not in other.text
    audit = await http.get("/web/audit/customers/OB")
    assert audit.status_code in (302, 303, 403) and "tariff" not in audit.text
