"""Protections through the API on the real dev server, with a drill floor so a ladder takes
seconds: a dispute opened by the CRM holds the ladder and its resolution lets it go on; the
cut-off's evidence pack is served to auditors only; a life-support registration made through
the API keeps another customer's power on; a moratorium needs a supervisor."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from config import ROOT
from rules import jurisdiction
from store import db
from store.models import OutboxMessage
from tests.e2e.conftest import Stack
from tests.faults.conftest import activate, fast_arrears_bundle

jurisdiction.add_pack_dir(ROOT / "tests" / "data" / "jurisdictions")


async def _task(stack: Stack, cid: str, kind: str) -> dict[str, Any]:
    for _ in range(300):
        found = (await stack.call("GET", "/v1/tasks", "inspector", params={"kind": kind})).json()
        mine = [t for t in found if t["customer_id"] == cid]
        if mine:
            return mine[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {kind} task for {cid}")


async def _complete(stack: Stack, task: dict[str, Any], outcome: str) -> None:
    r = await stack.call(
        "POST",
        f"/v1/tasks/{task['task_id']}/complete",
        "inspector",
        json={"result": {"outcome": outcome}},
    )
    assert r.status_code == 200, r.text


def _outbox(stack: Stack, wid: str) -> list[str]:
    sessions = db.session_factory(db.make_engine(stack.settings.store_url))
    with sessions() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.workflow_id == wid))
        return [m.action for m in rows]


async def _stage(stack: Stack, wid: str) -> str:
    body = (await stack.call("GET", f"/v1/workflows/{wid}", "crm")).json()
    return str((body.get("state") or {}).get("stage"))


async def _start(stack: Stack, cid: str) -> str:
    r = await stack.call(
        "PUT",
        f"/v1/customers/{cid}",
        "crm",
        json={"tariff": "residential", "contacts": {"phone": "+86 138 1"}},
    )
    assert r.status_code == 200, r.text
    ev = await stack.call(
        "POST",
        "/v1/events",
        "crm",
        json={
            "event_id": f"ev-{cid}",
            "type": "bill_overdue",
            "customer_id": cid,
            "data": {"bill_id": "B1", "amount": 90.0},
        },
    )
    assert ev.json()["routed_to"] == [f"arrears:{cid}"], ev.text
    await _complete(stack, await _task(stack, cid, "collection"), "promised")
    await _complete(stack, await _task(stack, cid, "prepayment_conversion"), "refused")
    return f"arrears:{cid}"


async def test_hold_evidence_and_life_support_through_the_api(stack: Stack) -> None:
    sessions = db.session_factory(db.make_engine(stack.settings.store_url))
    activate(sessions, fast_arrears_bundle())
    # a dispute before the notice: the ladder holds
    r = await stack.call("PUT", "/v1/customers/E2H", "crm", json={"tariff": "residential"})
    assert r.status_code == 200
    hold = await stack.call(
        "POST",
        "/v1/customers/E2H/holds",
        "crm",
        json={"hold_id": "H-E2H", "kind": "dispute", "reference": "C-1"},
    )
    assert hold.status_code == 201, hold.text
    wid = await _start(stack, "E2H")
    for _ in range(100):
        if await _stage(stack, wid) in ("on_hold", "paused"):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the dispute did not hold the ladder")
    await asyncio.sleep(3)
    assert "disconnection_notice" not in _outbox(stack, wid)
    bad = await stack.call("POST", "/v1/holds/H-E2H/resolve", "crm", json={})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"].endswith("resolution")
    done = await stack.call(
        "POST", "/v1/holds/H-E2H/resolve", "crm", json={"resolution": "bill confirmed"}
    )
    assert done.status_code == 200 and done.json()["signalled"] == [wid], done.text
    for _ in range(300):
        if "disconnect" in _outbox(stack, wid):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("no cut-off after the hold ended")

    assert (await stack.call("GET", f"/v1/disconnections/{wid}/evidence", "crm")).status_code == 403
    pack = (await stack.call("GET", f"/v1/disconnections/{wid}/evidence", "auditor")).json()
    [cut] = pack["disconnections"]
    assert cut["floor"]["jurisdiction"] == "drill" and pack["notices"] and pack["renotices"]
    decisions = [(c["step"], c["decision"]) for c in pack["protection_checks"]]
    assert ("disconnection_notice", "hold") in decisions
    assert ("disconnection", "proceed") in decisions
    assert pack["holds"][0]["status"] == "resolved"

    # life support registered through the API: no cut-off
    r = await stack.call("PUT", "/v1/customers/E2L", "crm", json={"tariff": "residential"})
    reg = await stack.call(
        "POST",
        "/v1/customers/E2L/registrations",
        "crm",
        json={
            "registration_id": "REG-E2L",
            "kind": "life_support",
            "certificate_ref": "CERT-5",
            "certified_by": "Dr. Zhao",
            "valid_from": "2026-01-01",
        },
    )
    assert reg.status_code == 201, reg.text
    wid = await _start(stack, "E2L")
    for _ in range(100):
        if await _stage(stack, wid) == "protected":
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("life support did not protect")
    await asyncio.sleep(3)
    assert not {"disconnection_notice", "disconnect"} & set(_outbox(stack, wid))
    moratorium = {
        "moratorium_id": "M1",
        "first_day": "2026-12-24",
        "last_day": "2026-12-23",
        "reason": "storm",
    }
    assert (await stack.call("POST", "/v1/moratoria", "crm", json=moratorium)).status_code == 403
    r = await stack.call("POST", "/v1/moratoria", "supervisor", json=moratorium)
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "last_day"

    # a certificate with an end: its review's start is queued with the registration (the
    # answer lists it) and the worker's relay applies it; a decision through the API reaches
    # the review through the outbox too and ends it
    reg = await stack.call(
        "POST",
        "/v1/customers/E2L/registrations",
        "crm",
        json={
            "registration_id": "REG-E2R",
            "kind": "medical",
            "certificate_ref": "CERT-6",
            "certified_by": "Dr. Zhao",
            "valid_from": "2026-01-01",
            "valid_to": "2026-02-01",
        },
    )
    assert reg.status_code == 201, reg.text
    body = reg.json()
    assert body["review_workflow"] == "registration:REG-E2R"
    [start] = body["transitions"]
    assert (start["op"], start["kind"], start["workflow_id"]) == (
        "start",
        "registration_review",
        "registration:REG-E2R",
    )
    await stack.settle()
    review = stack.temporal.get_workflow_handle("registration:REG-E2R")
    assert (await review.describe()).workflow_type == "registration_review"
    decided = await stack.call(
        "POST", "/v1/registrations/REG-E2R/review", "supervisor", json={"outcome": "ended"}
    )
    assert decided.status_code == 200, decided.text
    assert [t["signal"] for t in decided.json()["transitions"]] == ["reviewed"]
    await stack.settle()
    result = await asyncio.wait_for(review.result(), 60)
    assert result["outcome"] == "ended"
