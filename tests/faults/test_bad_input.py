"""Bad input through the API: broken policy bundles are rejected with file:line while the
active policy stays active; malformed customer records and events are rejected with the path
of the offending field (422 problem+json `errors[].path`) and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest

from rules.loader import FILES
from store.models import Customer, ProcessedEvent
from tests.e2e.conftest import Stack, stack  # noqa: F401 (the fixture)
from tests.faults.conftest import count
from tests.rules.conftest import POLICIES
from tests.rules.test_broken import CASES

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

# (record, a path every rejection must name)
BAD_RECORDS: list[tuple[Any, str]] = [
    ({"overdue_days": "50"}, "overdue_days"),
    ({"overdue_days": 1.5}, "overdue_days"),
    ({"overdue_days": -1}, "overdue_days"),
    ({"overdue_days": 2**40}, "overdue_days"),
    ({"late_payments_12m": True}, "late_payments_12m"),
    ({"capacity_kva": "315"}, "capacity_kva"),
    ({"capacity_kva": None, "annual_kwh": "x"}, "annual_kwh"),
    ({"annual_revenue": [1]}, "annual_revenue"),
    ({"annual_revenue": {"v": 1}}, "annual_revenue"),
    ({"life_support": 1}, "life_support"),
    ({"life_support": "yes"}, "life_support"),
    ({"prepaid_meter": "false"}, "prepaid_meter"),
    ({"important_registered": 0}, "important_registered"),
    ({"tariff": "residental"}, "tariff"),
    ({"tariff": 3}, "tariff"),
    ({"category": "vip"}, "category"),
    ({"points_12m": -1}, "points_12m"),
    ({"points_12m": "100"}, "points_12m"),
    ({"name": 12}, "name"),
    ({"feeder_id": ["F1"]}, "feeder_id"),
    ({"contacts": {"phone": 12345}}, "contacts.phone"),
    ({"contacts": {"sms_opt_in": "yes"}}, "contacts.sms_opt_in"),
    ({"contacts": {"fax": "1"}}, "contacts.fax"),
    ({"contacts": "13800000000"}, "contacts"),
    ({"attributes": {"bad": [1, 2]}}, "attributes.bad"),
    ({"attributes": "x"}, "attributes"),
    ({"overdue_day": 3}, "overdue_day"),
    ({"unknown_field": 1}, "unknown_field"),
    ({"customer_id": "OTHER"}, "customer_id"),
    ({"backup_power_compliant": "no"}, "backup_power_compliant"),
    ({"outage_minutes_12m": "long"}, "outage_minutes_12m"),
    ({"voltage_kv": True}, "voltage_kv"),
]

# (event body, a path every rejection must name); customer BI1 exists
E = {"event_id": "bad", "customer_id": "BI1"}
BAD_EVENTS: list[tuple[dict[str, Any], str]] = [
    ({**E, "type": "bill_overdue", "data": {"amount": 1.0}}, "data.bill_id"),
    ({**E, "type": "bill_overdue", "data": {"bill_id": "B1"}}, "data.amount"),
    ({**E, "type": "bill_overdue", "data": {"bill_id": "B1", "amount": -5}}, "data.amount"),
    ({**E, "type": "bill_overdue", "data": {"bill_id": "B1", "amount": "5"}}, "data.amount"),
    ({**E, "type": "bill_overdue", "data": {"bill_id": "B1", "amount": 5, "x": 1}}, "data.x"),
    ({**E, "type": "bill_overdue", "data": {"bill_id": "", "amount": 5}}, "data.bill_id"),
    ({**E, "type": "payment_received", "data": {"amount": 5}}, "data.channel"),
    ({**E, "type": "payment_received", "data": {"amount": 5, "channel": "cash"}}, "data.channel"),
    ({**E, "type": "payment_received", "data": {"amount": "5", "channel": "online"}},
     "data.amount"),
    ({**E, "type": "payment_received",
      "data": {"amount": 5, "channel": "online", "remaining": -1}}, "data.remaining"),
    ({**E, "type": "payment_received",
      "data": {"amount": 5, "channel": "online", "settled": "yes"}}, "data.settled"),
    ({**E, "type": "payment_plan_agreed", "data": {"bill_id": "B1", "instalments": 0}},
     "data.instalments"),
    ({**E, "type": "payment_plan_agreed", "data": {"bill_id": "B1", "instalments": 99}},
     "data.instalments"),
    ({**E, "type": "payment_plan_agreed", "data": {"bill_id": "B1"}}, "data.instalments"),
    ({**E, "type": "instalment_missed", "data": {}}, "data.bill_id"),
    ({**E, "type": "closure_requested", "data": {}}, "data.request_id"),
    ({**E, "type": "inspection_findings", "data": {"inspection_id": "I1", "hazards": []}},
     "data.hazards"),
    ({**E, "type": "inspection_findings", "data": {"inspection_id": "I1", "hazards": [
        {"hazard_id": "H1", "description": "x", "severity": "extreme"}]}},
     "data.hazards.0.severity"),
    ({**E, "type": "inspection_findings", "data": {"inspection_id": "I1", "hazards": [
        {"hazard_id": "H1", "description": "", "severity": "general"}]}},
     "data.hazards.0.description"),
    ({**E, "type": "inspection_findings", "data": {"hazards": [
        {"hazard_id": "H1", "description": "x", "severity": "general"}]}},
     "data.inspection_id"),
    ({**E, "type": "rectification_reported", "data": {"inspection_id": "I1",
                                                       "hazard_ids": "H1"}}, "data.hazard_ids"),
    ({**E, "type": "complaint", "data": {"topic": "noise"}}, "data.topic"),
    ({**E, "type": "complaint", "data": {}}, "data.topic"),
    ({**E, "type": "planned_outage", "data": {"feeder_id": "F1", "outage_id": "O1",
                                               "starts_at": "tomorrow",
                                               "ends_at": "2026-12-01T10:00:00Z"}},
     "data.starts_at"),
    ({**E, "type": "planned_outage", "data": {"feeder_id": "F1", "outage_id": "O1"}},
     "data.starts_at"),
    ({**E, "type": "service_request", "data": {"request_id": "R1", "subject": "gossip"}},
     "data.subject"),
    ({**E, "type": "meter_exploded", "data": {}}, "body.type"),
    ({"type": "complaint", "customer_id": "BI1", "data": {"topic": "outage"}}, "body.event_id"),
    ({**E, "event_id": "", "type": "complaint", "data": {"topic": "outage"}}, "body.event_id"),
    ({**E, "type": "complaint", "data": {"topic": "outage"}, "occurred_at": "yesterday"},
     "body.occurred_at"),
    ({**E, "customer_id": None, "type": "complaint", "data": {"topic": "outage"}},
     "customer_id"),
    ({**E, "customer_id": "NOBODY", "type": "complaint", "data": {"topic": "outage"}},
     "customer_id"),
    ({**E, "type": "complaint", "data": "outage"}, "body.data"),
]  # fmt: skip


def paths(body: dict[str, Any]) -> set[str]:
    return {e["path"] for e in body["errors"]}


async def test_broken_policy_bundles_keep_the_active_one(stack: Stack) -> None:  # noqa: F811
    before = await stack.call("GET", "/v1/policies", "policy_owner")
    active = [p for p in before.json() if p["status"] == "active"]
    assert len(active) == 1
    assert len(CASES) >= 30
    base = {name: (POLICIES / name).read_text(encoding="utf-8") for name in FILES}
    for case, file, old, new, expected in CASES:
        files = dict(base)
        assert old in files[file], case
        files[file] = files[file].replace(old, new, 1)
        r = await stack.call("POST", "/v1/policies", "policy_owner", json={"files": files})
        assert r.status_code == 422, (case, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        # the API's `path` is "file:line:col: field path" (empty field path for a whole file)
        got = sorted(
            f"{e['path']}: {e['message']}".replace(": : ", ": ") for e in r.json()["errors"]
        )
        assert got == sorted(expected), case
        for e in r.json()["errors"]:
            assert e["file"] and e["line"] >= 1, (case, e)
    after = await stack.call("GET", "/v1/policies", "policy_owner")
    assert after.json() == before.json()  # no draft stored, the same version active
    ok = await stack.call("PUT", "/v1/customers/BP1", "crm", json={"tariff": "residential"})
    assert ok.status_code == 200 and ok.json()["policy_version"] == active[0]["version"]


async def test_malformed_records_and_events_name_their_path(stack: Stack) -> None:  # noqa: F811
    assert len(BAD_RECORDS) >= 30 and len(BAD_EVENTS) >= 30
    for record, path in BAD_RECORDS:
        r = await stack.call("PUT", "/v1/customers/BR1", "crm", json=record)
        assert r.status_code == 422, (record, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert path in paths(r.json()), (record, r.json()["errors"])
    with stack.app.state.segflow.sessions() as s:
        assert s.get(Customer, "BR1") is None
    ok = await stack.call("PUT", "/v1/customers/BI1", "crm", json={"tariff": "residential"})
    assert ok.status_code == 200, ok.text
    sessions = stack.app.state.segflow.sessions
    events_before = count(sessions, ProcessedEvent)
    for body, path in BAD_EVENTS:
        r = await stack.call("POST", "/v1/events", "crm", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert path in paths(r.json()), (body, r.json()["errors"])
    assert count(sessions, ProcessedEvent) == events_before
