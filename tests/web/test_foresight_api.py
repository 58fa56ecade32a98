"""Foresight endpoints in-process (no Temporal needed): policy diff by version, roles, 404s."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from activities import policy_store
from api.main import create_app
from config import ROOT, Settings
from store import db
from store.models import AuditEntry, Customer, PolicyPin
from workflows.callback import stable_share


@pytest.fixture
async def api(
    settings: Settings, store_url: str, demo_tokens: dict[str, dict[str, str]]
) -> AsyncIterator[httpx.AsyncClient]:
    with db.session_factory(db.make_engine(store_url)).begin() as s:
        policy_store.activate_directory(s, ROOT / "policies", "test")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def auth(tokens: dict[str, dict[str, str]], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]['token']}"}


def _draft_files() -> dict[str, str]:
    files = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "policies").glob("*.yaml")}
    files["processes.yaml"] = files["processes.yaml"].replace("  max_tries: 3", "  max_tries: 2")
    return files


async def upload(api: httpx.AsyncClient, tokens: dict[str, Any]) -> str:
    r = await api.post(
        "/v1/policies", json={"files": _draft_files()}, headers=auth(tokens, "policy_owner")
    )
    assert r.status_code == 201, r.text
    return str(r.json()["version"])


async def test_diff_of_a_draft_against_the_active_version(
    api: httpx.AsyncClient, demo_tokens: dict[str, dict[str, str]]
) -> None:
    draft = await upload(api, demo_tokens)
    r = await api.get(f"/v1/policies/{draft}/diff", headers=auth(demo_tokens, "auditor"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["to"] == draft and body["from"] != draft
    [change] = body["changes"]
    assert change["meaning"] == "process" and change["path"] == "callback.max_tries"
    assert (change["old"], change["new"]) == (3, 2)
    assert change["old_at"] == change["new_at"] and change["old_at"].startswith("processes.yaml:")
    back = await api.get(
        f"/v1/policies/{body['from']}/diff", params={"against": draft},
        headers=auth(demo_tokens, "policy_owner"),
    )  # fmt: skip
    assert back.json()["changes"][0]["new"] == 3


async def test_diff_refuses_other_roles_and_unknown_versions(
    api: httpx.AsyncClient, demo_tokens: dict[str, dict[str, str]]
) -> None:
    draft = await upload(api, demo_tokens)
    r = await api.get(f"/v1/policies/{draft}/diff", headers=auth(demo_tokens, "agent"))
    assert r.status_code == 403
    r = await api.get(f"/v1/policies/{draft}/diff")
    assert r.status_code == 401
    r = await api.get(
        f"/v1/policies/{draft}/diff", params={"against": "sha256:nope"},
        headers=auth(demo_tokens, "auditor"),
    )  # fmt: skip
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["path"] == "against"


async def sign_in(api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], role: str) -> None:
    page = await api.get("/web/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    r = await api.post(
        "/web/signin",
        data={"csrf": csrf.group(1), "token": tokens[role]["token"],
              "principal": tokens[role]["principal"], "next": "/web/"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303


async def test_diff_page_in_both_languages(
    api: httpx.AsyncClient, demo_tokens: dict[str, dict[str, str]]
) -> None:
    draft = await upload(api, demo_tokens)
    await sign_in(api, demo_tokens, "auditor")
    r = await api.get(f"/web/policies/{draft}/diff")
    assert r.status_code == 200
    assert 'data-meaning="process"' in r.text and "callback.max_tries" in r.text
    assert re.search(r"processes\.yaml:\d+", r.text)
    r = await api.get(f"/web/policies/{draft}/diff?lang=zh")
    assert "策略差异" in r.text and "流程设置" in r.text
    assert (await api.get("/web/policies/sha256:nope/diff")).status_code == 404


SCENARIO = {
    "customer": {"customer_id": "SIM-API", "tariff": "residential", "annual_revenue": 900,
                 "contacts": {"phone": "+86 138 0000 0010"}},
    "abc_class": "C",
    "days": 20,
    "events": [{"day": 2, "type": "bill_overdue", "data": {"bill_id": "B1", "amount": 80.0}}],
    "answers": {"collection": {"outcome": "paid_on_site", "after_days": 2}},
}  # fmt: skip


async def test_simulate_endpoint(
    api: httpx.AsyncClient, demo_tokens: dict[str, dict[str, str]]
) -> None:
    draft = await upload(api, demo_tokens)
    r = await api.post(
        f"/v1/policies/{draft}/simulate", json=SCENARIO, headers=auth(demo_tokens, "auditor")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["policy_version"] == draft and body["customer_id"] == "SIM-API"
    steps = [(e["day"], e["step"]) for e in body["entries"]]
    assert steps[0] == (2, "event.bill_overdue")
    assert (2, "arrears.started") in steps and (11, "task:collection") in steps
    assert (13, "answer:collection") in steps
    bad = {**SCENARIO, "events": [{"day": 2, "type": "bill_overdue", "data": {"bill_id": ""}}]}
    r = await api.post(
        f"/v1/policies/{draft}/simulate", json=bad, headers=auth(demo_tokens, "policy_owner")
    )
    assert r.status_code == 422
    assert {e["path"] for e in r.json()["errors"]} == {
        "events[0].data.bill_id",
        "events[0].data.amount",
    }
    r = await api.post(
        f"/v1/policies/{draft}/simulate", json=SCENARIO, headers=auth(demo_tokens, "agent")
    )
    assert r.status_code == 403
    r = await api.post(
        "/v1/policies/sha256:nope/simulate", json=SCENARIO, headers=auth(demo_tokens, "auditor")
    )
    assert r.status_code == 404
    r = await api.post(
        f"/v1/policies/{draft}/simulate", json={"customer_id": "NOPE"},
        headers=auth(demo_tokens, "auditor"),
    )  # fmt: skip
    assert r.status_code == 404 and r.json()["errors"][0]["path"] == "customer_id"


async def test_forecast_endpoint_json_and_csv(
    api: httpx.AsyncClient, demo_tokens: dict[str, dict[str, str]], store_url: str
) -> None:
    with db.session_factory(db.make_engine(store_url)).begin() as s:
        for i in range(40):  # 2 of class A (key accounts, named manager), 6 of class B
            contacts = {"phone": "1", "account_manager": "mgr.zhao"}
            s.add(Customer(customer_id=f"W{i:02d}", tariff="commercial",
                           annual_revenue=100_000 - i, contacts=contacts))  # fmt: skip
    draft = await upload(api, demo_tokens)  # call-backs: max_tries 2 instead of 3
    r = await api.get(f"/v1/policies/{draft}/forecast", headers=auth(demo_tokens, "auditor"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["weeks"] == 13 and len(body["queues"]["agent"]) == 13
    assert body["capacity"]["agent"] == 8 * 20 * 5
    assert sum(body["assignees"]["mgr.zhao"]) > 0
    names = {a["name"]: a for a in body["assumptions"]}
    assert names["unreachable_share"]["source"] == "policy" and names["customers"]["value"] == 40
    # the draft calls fewer times than the active version: fewer call tasks, same visits
    calls = sum(body["kinds"]["agent/callback_call"])
    base_calls = sum(body["baseline"]["kinds"]["agent/callback_call"])
    assert calls < base_calls
    r = await api.get(
        f"/v1/policies/{draft}/forecast", params={"format": "csv"},
        headers=auth(demo_tokens, "policy_owner"),
    )  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0] == "policy_version,series,week,tasks,capacity,over_capacity"
    assert any(line.startswith(f"{draft},agent,13,") for line in lines)
    assert (
        await api.get(f"/v1/policies/{draft}/forecast", headers=auth(demo_tokens, "crm"))
    ).status_code == 403
    r = await api.get(f"/v1/policies/{draft}/forecast", params={"weeks": 0},
                      headers=auth(demo_tokens, "auditor"))  # fmt: skip
    assert r.status_code == 422


async def _customers(api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], n: int) -> None:
    for i in range(n):
        r = await api.put(f"/v1/customers/S{i:03d}", headers=auth(tokens, "crm"),
                          json={"tariff": "residential", "annual_revenue": 1000 + i})  # fmt: skip
        assert r.status_code in (200, 201), r.text


async def _version_of(api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], cid: str) -> str:
    r = await api.get(f"/v1/customers/{cid}", headers=auth(tokens, "auditor"))
    assert r.status_code == 200, r.text
    return str(r.json()["assignment"]["policy_version"])


async def test_stage_widen_compare_rollback(
    api: httpx.AsyncClient, demo_tokens: dict[str, dict[str, str]], store_url: str
) -> None:
    await _customers(api, demo_tokens, 60)
    draft = await upload(api, demo_tokens)
    owner = auth(demo_tokens, "policy_owner")
    active = await _version_of(api, demo_tokens, "S000")
    assert active != draft
    r = await api.post(f"/v1/policies/{draft}/stage", json={"share": 0.25}, headers=owner)
    assert r.status_code == 201, r.text
    stage = r.json()
    inside = {f"S{i:03d}" for i in range(60) if stable_share(f"S{i:03d}") < 0.25}
    assert stage["pinned"] == len(inside) > 0 and stage["status"] == "running"
    member, outsider = (
        sorted(inside)[0],
        next(f"S{i:03d}" for i in range(60) if f"S{i:03d}" not in inside),
    )
    assert await _version_of(api, demo_tokens, member) == draft
    assert await _version_of(api, demo_tokens, outsider) == active
    r = await api.get(f"/v1/customers/{member}", headers=auth(demo_tokens, "auditor"))
    assert r.json()["explanation"]["staged"] == {"stage_id": stage["stage_id"], "version": draft}
    # an upsert of a pinned customer keeps the staged version
    r = await api.put(f"/v1/customers/{member}", headers=auth(demo_tokens, "crm"),
                      json={"tariff": "residential", "annual_revenue": 5})  # fmt: skip
    assert r.status_code == 200 and r.json()["policy_version"] == draft
    # one stage at a time; the active version cannot be staged; bad input names the field
    r = await api.post(f"/v1/policies/{draft}/stage", json={"share": 0.5}, headers=owner)
    assert r.status_code == 409
    r = await api.post(f"/v1/policies/{draft}/stage", json={"share": 0.5, "dimension": "tag"},
                       headers=owner)  # fmt: skip
    assert r.status_code in (409, 422)
    r = await api.post(f"/v1/policies/{draft}/stage", json={"share": 0.5},
                       headers=auth(demo_tokens, "agent"))  # fmt: skip
    assert r.status_code == 403
    # widen: the earlier members stay
    r = await api.post(f"/v1/policies/stages/{stage['stage_id']}/widen", json={"share": 0.5},
                       headers=owner)  # fmt: skip
    assert r.status_code == 200, r.text
    wider = {f"S{i:03d}" for i in range(60) if stable_share(f"S{i:03d}") < 0.5}
    assert r.json()["pinned"] == len(wider) and inside <= wider
    r = await api.post(f"/v1/policies/stages/{stage['stage_id']}/widen", json={"share": 0.3},
                       headers=owner)  # fmt: skip
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "share"
    r = await api.get(
        f"/v1/policies/stages/{stage['stage_id']}", headers=auth(demo_tokens, "auditor")
    )
    groups = r.json()["groups"]
    assert groups["staged"]["customers"] == len(wider)
    assert groups["staged"]["customers"] + groups["rest"]["customers"] == 60
    # roll back: everyone on the active version, pins gone, transitions queued for the stage
    r = await api.post(f"/v1/policies/stages/{stage['stage_id']}/rollback", headers=owner)
    assert r.status_code == 200 and r.json()["status"] == "rolled_back"
    assert await _version_of(api, demo_tokens, member) == active
    with db.session_factory(db.make_engine(store_url))() as s:
        assert s.scalar(select(func.count()).select_from(PolicyPin)) == 0
        actions = list(
            s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("policy.stage%")))
        )
    assert sorted(actions) == ["policy.stage_rolled_back", "policy.stage_widened", "policy.staged"]
    r = await api.post(f"/v1/policies/stages/{stage['stage_id']}/rollback", headers=owner)
    assert r.status_code == 409
