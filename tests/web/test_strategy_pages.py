"""Pages of the strategies in Chromium: the outage planning view (sensitive customers first,
CSV), a points redemption at the counter, and the KPI trends per period."""

from __future__ import annotations

from playwright.async_api import expect

from tests.web.conftest import DESKTOP, Live, shot, unlabelled, wait_for


async def test_outage_planning_view(live: Live) -> None:
    for cid, body in (
        ("OPL-R", {"tariff": "residential", "feeder_id": "F-PL", "outage_count_12m": 1,
                   "outage_minutes_12m": 30.0}),
        ("OPL-H", {"important_registered": True, "feeder_id": "F-PL", "outage_count_12m": 4,
                   "outage_minutes_12m": 600.0}),
    ):  # fmt: skip
        r = await live.api.put(f"/v1/customers/{cid}", json=body, headers=live.auth("crm"))
        assert r.status_code == 200, r.text
    page = await live.page(DESKTOP)
    await live.sign_in(page, "supervisor", "/web/outages")
    await page.fill("#feeder", "F-PL")
    await page.get_by_role("button", name="Show").click()
    rows = page.locator("#feeder-customers tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("OPL-H")  # the sensitive, important one first
    await expect(rows.first).to_contain_text("600")
    assert await unlabelled(page) == []
    await page.screenshot(path=shot("20-outage-planning-desktop"), full_page=True)
    csv = await live.api.get("/v1/feeders/F-PL/outage-plan", params={"format": "csv"},
                             headers=live.auth("auditor"))  # fmt: skip
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("customer_id,category,sensitive") and lines[1].startswith("OPL-H")
    await page.context.close()


async def test_points_redemption_page(live: Live) -> None:
    record = {"tariff": "residential", "points_12m": 2500,
              "contacts": {"account_manager": live.tokens["agent"]["principal"]}}  # fmt: skip
    r = await live.api.put("/v1/customers/PTW", json=record, headers=live.auth("crm"))
    assert r.status_code == 200, r.text
    page = await live.page(DESKTOP)
    await live.sign_in(page, "agent", "/web/customers/PTW/points")
    await expect(page.locator("#balance")).to_have_text("2500")
    await page.select_option("#service", "safety_check")  # 1500 points
    await page.get_by_role("button", name="Redeem").click()
    await expect(page.locator("#balance")).to_have_text("1000")
    await page.select_option("#service", "energy_audit")  # 3000: refused, the balance stays
    await page.get_by_role("button", name="Redeem").click()
    await expect(page.locator("body")).to_contain_text("needs 3000 points, balance is 1000")
    await expect(page.locator("#balance")).to_have_text("1000")
    await expect(page.locator("#movements tbody tr")).to_have_count(2)
    assert await unlabelled(page) == []
    await page.screenshot(path=shot("21-points-redemption-desktop"), full_page=True)
    await page.context.close()


async def test_kpi_trends(live: Live) -> None:
    page = await live.page(DESKTOP)
    await live.sign_in(page, "auditor", "/web/kpi")
    await expect(page.get_by_role("heading", name="Trends per period")).to_be_visible()
    await page.select_option("select[name=period]", "day")
    await page.select_option("select[name=segment]", "category")
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator("select[name=segment]")).to_have_value("category")
    await expect(page.locator("#k-trend")).to_be_visible()
    await page.screenshot(path=shot("22-kpi-trends-desktop"), full_page=True)
    await page.context.close()


async def test_task_page_shows_the_strategy_offers(live: Live) -> None:
    r = await live.api.put("/v1/customers/OFR", json={"tariff": "residential"},
                           headers=live.auth("crm"))  # fmt: skip
    assert r.status_code == 200 and r.json()["actions"].get("prepayment_recommended"), r.text
    ev = await live.api.post("/v1/events", headers=live.auth("crm"), json={
        "event_id": "ofr-1", "type": "service_request", "customer_id": "OFR",
        "data": {"request_id": "Q1", "subject": "billing"}})  # fmt: skip
    assert ev.status_code == 200, ev.text

    async def task_id() -> str | None:
        got = await live.api.get("/v1/tasks", params={"customer_id": "OFR"},
                                 headers=live.auth("agent"))  # fmt: skip
        return got.json()[0]["task_id"] if got.json() else None

    tid = await wait_for(task_id)
    page = await live.page(DESKTOP)
    await live.sign_in(page, "agent", f"/web/tasks/{tid}")
    offers = page.locator("#offers")
    await expect(offers).to_contain_text("Recommend a prepayment (cost-control) meter.")
    await expect(offers).to_contain_text("All business can be accepted by telephone.")
    await page.context.close()
