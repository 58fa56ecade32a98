"""CRM events on the real dev server: routing, idempotency by event id, validation."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Stack


async def _event(stack: Stack, **body: Any) -> Any:
    return await stack.call("POST", "/v1/events", "crm", json=body)


async def test_events_start_signal_and_accrue_points(stack: Stack) -> None:
    r = await stack.call(
        "PUT", "/v1/customers/EV1", "crm", json={"tariff": "residential", "annual_revenue": 100.0}
    )
    assert r.status_code == 200, r.text
    overdue = {
        "event_id": "e-1",
        "type": "bill_overdue",
        "customer_id": "EV1",
        "data": {"bill_id": "B1", "amount": 320.0},
    }
    r = await _event(stack, **overdue)
    assert r.status_code == 200, r.text
    assert r.json()["routed_to"] == ["arrears:EV1"]
    again = await _event(stack, **overdue)
    assert again.json() == {**r.json(), "duplicate": True}
    clash = await _event(stack, **{**overdue, "data": {"bill_id": "B1", "amount": 1.0}})
    assert clash.status_code == 409
    assert r.json()["transitions"][0]["status"] == "pending"

    await stack.settle()  # the answer came before the relay started the workflow
    wf = await stack.call("GET", "/v1/workflows/arrears:EV1", "crm")
    assert wf.status_code == 200 and wf.json()["type"] == "arrears"

    pay = await _event(
        stack,
        event_id="e-2",
        type="payment_received",
        customer_id="EV1",
        data={"bill_id": "B1", "amount": 600.0, "channel": "online", "settled": True},
    )
    assert pay.status_code == 200, pay.text
    body = pay.json()
    assert body["routed_to"] == ["arrears:EV1"]
    # paper 003: 600 yuan is the 500+ tier (1.2 points/yuan), online x2
    assert body["points"]["points"] == 1440 and body["points"]["rule_id"]
    assert body["assignment"]["points_tier"] == "silver"

    bad = await _event(
        stack,
        event_id="e-3",
        type="payment_received",
        customer_id="EV1",
        data={"amount": "600", "channel": "cash"},
    )
    assert bad.status_code == 422
    assert {e["path"] for e in bad.json()["errors"]} == {"data.amount", "data.channel"}
    unknown = await _event(
        stack, event_id="e-4", type="complaint", customer_id="NOBODY", data={"topic": "outage"}
    )
    assert unknown.status_code == 422


async def test_union_refusals_are_problem_json_with_paths(stack: Stack) -> None:
    """The body is validated into the union by type: the path names the field of the type's
    data, or `body.type` for a type the union lacks; nothing is stored."""
    await stack.call("PUT", "/v1/customers/EV2", "crm", json={"tariff": "residential"})
    cases = [
        ({"type": "meter_exploded", "data": {}}, {"body.type"}),
        ({"data": {"topic": "outage"}}, {"body.type"}),
        ({"type": "hold_resolved", "data": {"hold_id": "D1", "resolution": ""}},
         {"data.resolution"}),
        ({"type": "planned_outage", "data": {"feeder_id": "F1", "outage_id": "O1",
                                             "starts_at": 5, "ends_at": "2026-12-03T12:00Z"}},
         {"data.starts_at"}),
        ({"type": "life_support_registered", "data": {
            "registration_id": "L1", "certificate_ref": "C", "certified_by": "D",
            "valid_from": "2026-01-01", "kind": "wheelchair"}}, {"data.kind"}),
    ]  # fmt: skip
    for i, (body, paths) in enumerate(cases):
        r = await _event(stack, event_id=f"u-{i}", customer_id="EV2", **body)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert {e["path"] for e in r.json()["errors"]} == paths, (body, r.json())
        assert all(e["code"] for e in r.json()["errors"])  # a stable code beside each path
        again = await _event(stack, event_id=f"u-{i}", customer_id="EV2", type="complaint",
                             data={"topic": "billing"})  # fmt: skip
        assert again.status_code == 200 and "duplicate" not in again.json()  # nothing stored
    spec = (await stack.http.get("/openapi.json")).json()
    body_schema = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]
    mapping = body_schema["application/json"]["schema"]["discriminator"]["mapping"]
    assert mapping["hold_resolved"] == "#/components/schemas/HoldResolvedEvent"


async def test_start_workflow_is_idempotent_by_business_key(stack: Stack) -> None:
    await stack.call("PUT", "/v1/customers/WF1", "crm", json={"tariff": "residential"})
    body = {"customer_id": "WF1", "request_id": "R1"}
    first = await stack.call("POST", "/v1/workflows/closure", "crm", json=body)
    assert first.status_code == 201, first.text
    assert first.json()["workflow_id"] == "closure:WF1"
    same = await stack.call("POST", "/v1/workflows/closure", "crm", json=body)
    assert same.status_code == 201 and same.json()["run_id"] == first.json()["run_id"]
    other = await stack.call(
        "POST", "/v1/workflows/closure", "crm", json={"customer_id": "WF1", "request_id": "R2"}
    )
    assert other.status_code == 409
    bad = await stack.call("POST", "/v1/workflows/closure", "crm", json={"customer_id": 5})
    assert bad.status_code == 422
