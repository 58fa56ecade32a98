"""The printable evidence pack of a real disconnection in Chromium: a drill ladder (seconds)
runs on the dev server through the API, then an auditor opens /web/evidence/{id} in English
and Chinese and prints it; an agent is refused."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from config import ROOT
from rules import jurisdiction
from store import db
from tests.faults.conftest import activate, fast_arrears_bundle
from tests.web.conftest import Live, shot, wait_for

jurisdiction.add_pack_dir(ROOT / "tests" / "data" / "jurisdictions")
CID, WID = "EVP1", "arrears:EVP1"


async def _complete(live: Live, kind: str, outcome: str) -> None:
    async def found() -> Any:
        r = await live.api.get("/v1/tasks", headers=live.auth("inspector"), params={"kind": kind})
        return [t for t in r.json() if t["customer_id"] == CID]

    [task] = await wait_for(found, timeout=30)
    r = await live.api.post(
        f"/v1/tasks/{task['task_id']}/complete",
        headers=live.auth("inspector"),
        json={"result": {"outcome": outcome}},
    )
    assert r.status_code == 200, r.text


async def test_evidence_page_of_a_disconnection(live: Live) -> None:
    sessions = db.session_factory(db.make_engine(live.settings.store_url))
    activate(sessions, fast_arrears_bundle())
    r = await live.api.put(
        f"/v1/customers/{CID}",
        headers=live.auth("crm"),
        json={"tariff": "residential", "contacts": {"phone": "+86 139 4"}},
    )
    assert r.status_code == 200, r.text
    r = await live.api.post(
        "/v1/events",
        headers=live.auth("crm"),
        json={
            "event_id": "evp-1",
            "type": "bill_overdue",
            "customer_id": CID,
            "data": {"bill_id": "B1", "amount": 90.0},
        },
    )
    assert r.json()["routed_to"] == [WID], r.text
    await _complete(live, "collection", "promised")
    await _complete(live, "prepayment_conversion", "refused")

    async def cut() -> Any:
        r = await live.api.get(f"/v1/disconnections/{WID}/evidence", headers=live.auth("auditor"))
        return r.status_code == 200 and r.json()["disconnections"]

    await wait_for(cut, timeout=60)

    page = await live.page()
    await live.sign_in(page, "auditor", f"/web/evidence/{WID}")
    await expect(page.locator("h1")).to_contain_text("Evidence pack")
    await expect(page.locator("table.disconnection")).to_contain_text("drill")
    await expect(page.locator("main")).to_contain_text("Protection checks at the moment")
    await expect(page.locator("main")).to_contain_text("disconnection")
    assert await page.locator("time").count() >= 3
    await page.emulate_media(media="print")
    await page.screenshot(path=shot("evidence-print"), full_page=True)
    pdf = await page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000
    await page.context.close()

    zh = await live.page(lang="zh")
    await live.sign_in(zh, "auditor", f"/web/evidence/{WID}")
    await expect(zh.locator("h1")).to_contain_text("证据包")
    await zh.context.close()

    agent = await live.page()
    await live.sign_in(agent, "agent", f"/web/evidence/{WID}")
    await expect(agent.locator("main")).not_to_contain_text("Evidence pack")
    await agent.context.close()
