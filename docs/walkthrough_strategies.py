"""The strategies part of the walkthrough (docs/walkthrough.py calls `strategies(w)`): a key
account's request reaching its named manager, a points redemption, the outage planning view
and the KPIs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any


def _wait_task(w: Any, role: str, query: str) -> Any:
    for _ in range(600):  # the demo population keeps the worker busy at first
        found = w.http.get(
            f"/v1/tasks?{query}", headers={"Authorization": f"Bearer {w.tokens[role]['token']}"}
        ).json()
        if found:
            return found
        time.sleep(0.2)
    return []


def strategies(w: Any) -> None:
    """Key account -> manager, points, outage planning, KPIs."""
    manager = w.tokens["agent"]["principal"]
    w.say("## Strategies that act (issue 14)\n")
    w.say(
        f"A key account names its account manager (`{manager}`) in the record; its strategy "
        "sets `account_manager`, `priority_call_routing`, `green_channel` and a 24 h SLA.\n"
    )
    w.call("crm", "PUT", "/v1/customers/W-KEY-1", {
        "name": "Harbour Steel Works", "capacity_kva": 2000, "annual_revenue": 9e6,
        "feeder_id": "F-WALK", "outage_count_12m": 3, "outage_minutes_12m": 410.0,
        "contacts": {"phone": "+86 531 5550 0200", "account_manager": manager}},
        limit=900)  # fmt: skip
    w.call("crm", "POST", "/v1/events", {
        "event_id": "w-sr-1", "type": "service_request", "customer_id": "W-KEY-1",
        "data": {"request_id": "REQ-1", "subject": "capacity_change"}})  # fmt: skip
    _wait_task(w, "agent", "customer_id=W-KEY-1&kind=service_request")
    w.say("The task is the manager's own (not the shared queue), ranked first, due in 24 h:\n")
    tasks = w.call("agent", "GET", "/v1/tasks?customer_id=W-KEY-1&kind=service_request",
                   limit=1400)  # fmt: skip
    if tasks:
        w.say("The manager answers it within the SLA:\n")
        w.call("agent", "POST", f"/v1/tasks/{tasks[0]['task_id']}/complete",
               {"result": {"outcome": "resolved", "note": "capacity change scheduled"}},
               limit=600)  # fmt: skip
    until = (datetime.now(UTC) + timedelta(days=3)).isoformat(timespec="seconds")
    w.say("The manager goes on leave: open tasks go back to the agent queue (the fallback).\n")
    w.call("supervisor", "POST", f"/v1/managers/{manager}/away",
           {"until": until, "reason": "annual leave"})  # fmt: skip
    w.call("supervisor", "DELETE", f"/v1/managers/{manager}/away")
    w.say("### Points\n\nA residential customer: the CRM's figure is the opening balance; a "
          "top-up earns by rule (amount tier x channel); a CRM PUT cannot reset it.\n")  # fmt: skip
    w.call("crm", "PUT", "/v1/customers/W-RES-1", {
        "tariff": "residential", "points_12m": 800, "feeder_id": "F-WALK",
        "contacts": {"phone": "+86 138 5550 0300", "account_manager": manager}},
        limit=600)  # fmt: skip
    w.call("crm", "POST", "/v1/events", {
        "event_id": "w-pay-1", "type": "payment_received", "customer_id": "W-RES-1",
        "data": {"amount": 600, "channel": "online", "payment_id": "PAY-1"},
    }, limit=600)  # fmt: skip
    w.call("agent", "POST", "/v1/customers/W-RES-1/points/redemptions",
           {"key": "w-red-1", "service": "safety_check"})  # fmt: skip
    w.say("More than the balance is refused with the reason:\n")
    w.call("agent", "POST", "/v1/customers/W-RES-1/points/redemptions",
           {"key": "w-red-2", "service": "priority_repair"})  # fmt: skip
    w.call("agent", "GET", "/v1/customers/W-RES-1/points", limit=1400)
    w.call("crm", "PUT", "/v1/customers/W-CLINIC-1", {
        "name": "Eastgate Clinic", "important_registered": True, "feeder_id": "F-WALK",
        "outage_count_12m": 2, "outage_minutes_12m": 95.0, "outage_complaints_12m": 2,
        "contacts": {"phone": "+86 531 5550 0400"}}, limit=300)  # fmt: skip
    w.say("### Outage planning\n\nBefore notices go out, the planner sees the feeder's "
          "customers, outage-sensitive first, with their outage counts and minutes "
          "(also as CSV with `format=csv`, and on `/web/outages?feeder=F-WALK`):\n")  # fmt: skip
    w.call("supervisor", "GET", "/v1/feeders/F-WALK/outage-plan", limit=1800)
    w.say("### KPIs by period and segment\n")
    time.sleep(3)
    w.call("auditor", "GET", "/v1/kpis?period=day&segment=category", limit=2000)
