"""Every /v1 endpoint called by every role: allowed roles get through, the rest 403, no
token 401. A new endpoint missing from ALLOWED fails the test, so the matrix stays whole."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Stack

ROLES = ("policy_owner", "crm", "agent", "inspector", "supervisor", "auditor", "admin")
READ_ALL = {"auditor", "supervisor"}
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("PUT", "/v1/customers/{customer_id}"): {"crm"},
    ("GET", "/v1/customers/{customer_id}"): {"crm", "auditor", "supervisor", "agent"},
    ("POST", "/v1/customers:batch"): {"crm"},
    ("GET", "/v1/customers"): {"crm"} | READ_ALL,
    ("POST", "/v1/events"): {"crm"},
    ("GET", "/v1/tasks"): {"agent", "inspector"} | READ_ALL,
    ("GET", "/v1/tasks/{task_id}"): {"agent", "inspector"} | READ_ALL,
    ("POST", "/v1/tasks/{task_id}/claim"): {"agent", "inspector", "supervisor"},
    ("POST", "/v1/tasks/{task_id}/complete"): {"agent", "inspector", "supervisor"},
    ("POST", "/v1/tasks/{task_id}/reassign"): {"supervisor"},
    ("GET", "/v1/workflows"): {"crm"} | READ_ALL,
    ("GET", "/v1/workflows/{workflow_id}"): {"crm"} | READ_ALL,
    ("GET", "/v1/workflows/{workflow_id}/history"): {"crm"} | READ_ALL,
    ("POST", "/v1/workflows/{kind}"): {"crm", "supervisor"},
    ("POST", "/v1/workflows/{workflow_id}/signals/{name}"): {"crm", "supervisor"},
    ("POST", "/v1/workflows/{workflow_id}/cancel"): {"supervisor"},
    ("GET", "/v1/policies"): {"policy_owner"} | READ_ALL,
    ("POST", "/v1/policies"): {"policy_owner"},
    ("POST", "/v1/policies/{version}/impact"): {"policy_owner"} | READ_ALL,
    ("POST", "/v1/policies/{version}/activate"): {"policy_owner"},
    ("POST", "/v1/policies/rollback"): {"policy_owner"},
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
    "name": "leave",
    "registration_id": "REG-NOPE",
    "hold_id": "H-NOPE",
    "feeder_id": "NOPE",
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
