"""The pages' refusals and downloads that go through the services the API uses: a cancel of
no running workflow, a blank reason, an evidence pack of a non-arrears id, the JSONL export."""

from __future__ import annotations

import json

import pytest
from playwright.async_api import expect

from tests.web.conftest import DESKTOP, Live

pytestmark = pytest.mark.e2e


async def test_supervisor_cancel_refusals_are_flashed(live: Live) -> None:
    page = await live.page(DESKTOP)
    await live.sign_in(page, "supervisor", "/web/supervisor")
    await page.fill("#cancel-wf", "callback:NOBODY")
    await page.fill("#cancel-reason", "customer moved away")
    await page.get_by_role("button", name="Cancel").click()
    await expect(page.locator(".flash")).to_contain_text(
        "Not found: no running workflow callback:NOBODY"
    )
    # four characters pass the browser's minlength; stripped, one is left
    await page.fill("#cancel-wf", "callback:NOBODY")
    await page.fill("#cancel-reason", "   x")
    await page.get_by_role("button", name="Cancel").click()
    await expect(page.locator(".flash")).to_contain_text("Reason: at least 3 characters.")
    await page.context.close()


async def test_auditor_evidence_of_no_ladder_and_export(live: Live) -> None:
    r = await live.api.put(
        "/v1/customers/RFX1", headers=live.auth("crm"), json={"tariff": "residential"}
    )
    assert r.status_code == 200, r.text
    page = await live.page(DESKTOP)
    await live.sign_in(page, "auditor", "/web/evidence/hazard:X:1")
    await expect(page.locator("main")).to_contain_text("no arrears ladder hazard:X:1")
    got = await page.request.get(f"{live.base}/web/evidence/hazard:X:1")
    assert got.status == 404
    export = await page.request.get(f"{live.base}/web/audit/export?customer_id=RFX1")
    assert export.status == 200
    assert export.headers["content-type"].startswith("application/x-ndjson")
    assert "segflow-audit.jsonl" in export.headers["content-disposition"]
    entries = [json.loads(line) for line in (await export.text()).splitlines()]
    assert entries and {e["customer_id"] for e in entries} == {"RFX1"}
    assert any(e["action"].startswith("customer.") for e in entries)
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs)  # oldest first
    await page.context.close()
