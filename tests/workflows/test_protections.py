"""Protections checked at the moment, holds, the issue-11 fixes and the ladder under each
jurisdiction, on the time-skipping server with the real activities. Cut-offs are judged by
the independent checker (outbox + audit + protection tables)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

import rules
from activities import policy_store, workflow_starts
from services import protections as svc
from services import registration_reviews as reviews
from services.evidence import EvidenceNotFound, evidence_pack
from store.models import Assignment, Customer, Registration, Transition
from tests.protect.bundles import texts_for
from tests.workflows.conftest import DAY, Rig
from tests.workflows.cutoff_checker import check_cutoffs
from workflows.arrears_payloads import (
    ProtectionChanged,
    RegistrationReviewed,
    RegistrationReviewInput,
)
from workflows.inputs import ArrearsInput, ClosureInput
from workflows.outcomes import ProcessResult
from workflows.signals import PaymentSignal

LONG_AGO = date(2020, 1, 1)


async def to_notice(rig: Rig, h: Any, wid: str) -> None:
    await rig.complete(h, await rig.task(wid, "collection"), outcome="promised")
    await rig.complete(h, await rig.task(wid, "prepayment_conversion"), outcome="refused")
    await rig.drive(lambda: "notice0.delivered" in rig.steps(wid))


def cut(rig: Rig, wid: str) -> bool:
    return any(m.action == "disconnect" for m in rig.outbox(wid))


def checks(rig: Rig, wid: str) -> list[dict[str, Any]]:
    return [e.detail for e in rig.audit(wid) if e.action == "protection.check"]


async def test_life_support_registered_after_the_notice_keeps_the_power_on(rig: Rig) -> None:
    rig.customer("PL1")
    wid = "arrears:PL1:B1"
    h = await rig.start("arrears", ArrearsInput("PL1", "B1", 80.0), wid)
    await to_notice(rig, h, wid)
    # registered in the store only (no signal): the check at the moment must find it
    reviews.register(
        rig.sessions, "PL1", "REG-PL1", "life_support", "CERT-77", "Dr. Li", LONG_AGO, None, "crm"
    )
    review = await rig.task(wid, "life_support_review")
    assert review.queue == "supervisor"
    await rig.advance(20 * DAY)
    assert not cut(rig, wid)
    protected = [c for c in checks(rig, wid) if c["decision"] == "protected"]
    assert protected and protected[0]["reasons"][0]["code"] == "life_support"
    assert "cn/never_disconnect" in protected[0]["reasons"][0]["rule"]
    await h.signal("payment", PaymentSignal(80.0, settled=True))
    assert (await h.result()).outcome == "settled"
    assert check_cutoffs(rig, wid) == []


async def test_expired_registration_protects_until_the_review_ends_it(rig: Rig) -> None:
    rig.customer("PL2")
    reviews.register(
        rig.sessions,
        "PL2",
        "REG-PL2",
        "medical",
        "CERT-8",
        "Health board",
        LONG_AGO,
        date(2021, 1, 1),
        "crm",
    )
    wid = "arrears:PL2:B1"
    h = await rig.start("arrears", ArrearsInput("PL2", "B1", 80.0), wid)
    await rig.complete(h, await rig.task(wid, "collection"), outcome="promised")
    await rig.complete(h, await rig.task(wid, "prepayment_conversion"), outcome="refused")
    await rig.task(wid, "life_support_review")
    await rig.advance(10 * DAY)
    assert not [m for m in rig.outbox(wid) if m.action in ("disconnect", "disconnection_notice")]
    reasons = [r["code"] for c in checks(rig, wid) for r in c["reasons"]]
    assert "registration_expired" in reasons
    reviews.review(rig.sessions, "REG-PL2", "ended", None, "supervisor.wang")
    await h.signal("protection_changed", ProtectionChanged("medical", False, "REG-PL2"))
    await rig.drive(lambda: cut(rig, wid), limit=30 * DAY)
    assert len(check_cutoffs(rig, wid)) == 1


async def test_moratorium_declared_later_moves_the_cutoff(rig: Rig) -> None:
    rig.customer("PM1")
    wid = "arrears:PM1:B1"
    h = await rig.start("arrears", ArrearsInput("PM1", "B1", 80.0), wid)
    await to_notice(rig, h, wid)
    planned = datetime.fromisoformat((await rig.state(h)).facts["cutoff"])
    day = planned.astimezone(ZoneInfo("Asia/Shanghai")).date()
    svc.declare_moratorium(
        rig.sessions, "M-PM1", day - timedelta(days=1), day + timedelta(days=2), "typhoon", "ops"
    )
    try:
        await rig.drive(lambda: cut(rig, wid), limit=40 * DAY)
    finally:
        svc.lift_moratorium(rig.sessions, "M-PM1", "ops")
    [at] = check_cutoffs(rig, wid)
    assert at.astimezone(ZoneInfo("Asia/Shanghai")).date() > day + timedelta(days=2)
    postponed = [c for c in checks(rig, wid) if c["decision"] == "postpone"]
    assert postponed and "moratorium M-PM1" in postponed[0]["reasons"][0]["detail"]


async def test_dispute_holds_and_a_stale_notice_is_served_again(rig: Rig) -> None:
    rig.customer("PD1")
    wid = "arrears:PD1:B1"
    h = await rig.start("arrears", ArrearsInput("PD1", "B1", 80.0), wid)
    await to_notice(rig, h, wid)
    svc.open_hold(rig.sessions, "PD1", "H-PD1", "dispute", "B1", "CASE-1", "crm")
    await h.signal("protection_changed", ProtectionChanged("dispute", True, "H-PD1"))
    await rig.drive(lambda: "paused" in rig.steps(wid))
    await rig.advance(10 * DAY)  # longer than the 7-day maximum lead: the notice goes stale
    assert not cut(rig, wid)
    svc.resolve_hold(rig.sessions, "H-PD1", "bill confirmed", "crm")
    await h.signal("protection_changed", ProtectionChanged("dispute", False, "H-PD1"))
    await rig.drive(lambda: cut(rig, wid), limit=30 * DAY)
    assert "notice1.delivered" in rig.steps(wid) or "notice2.delivered" in rig.steps(wid)
    [at] = check_cutoffs(rig, wid)
    resumed = datetime.fromisoformat(rig.steps(wid)["resumed"]["at"])
    assert at > resumed


async def test_paid_on_site_holds_the_ladder_until_the_crm_confirms(rig: Rig) -> None:
    rig.customer("PF1")
    wid = "arrears:PF1:B1"
    h = await rig.start("arrears", ArrearsInput("PF1", "B1", 80.0), wid)
    await rig.complete(
        h, await rig.task(wid, "collection"), outcome="paid_on_site", amount_collected=80.0
    )
    await rig.advance(30 * DAY)
    assert rig.open_task(wid, "prepayment_conversion") is None
    assert not [m for m in rig.outbox(wid) if m.action == "disconnection_notice"]
    assert (await rig.state(h)).stage == "paused"
    await h.signal("payment", PaymentSignal(80.0, settled=True))
    assert (await h.result()).outcome == "settled"


async def disconnect(rig: Rig, cid: str) -> tuple[Any, str]:
    rig.customer(cid, arrears_amount=50.0)
    wid = f"arrears:{cid}:B1"
    h = await rig.start("arrears", ArrearsInput(cid, "B1", 50.0), wid)
    await to_notice(rig, h, wid)
    await rig.drive(lambda: cut(rig, wid))
    return h, wid


async def test_failed_reconnection_is_escalated_not_reported_done(rig: Rig) -> None:
    h, wid = await disconnect(rig, "PR1")
    await h.signal("payment", PaymentSignal(50.0, settled=True))
    await rig.complete(h, await rig.task(wid, "reconnection"), outcome="failed")
    await rig.drive(lambda: "reconnection.failed" in rig.steps(wid))
    retry = await rig.task(wid, "reconnection")
    assert retry.queue == "supervisor"
    assert (await rig.state(h)).stage == "reconnecting"
    await rig.complete(h, retry, outcome="reconnected")
    result = await h.result()
    assert (result.outcome, result.facts["attempts"]) == ("reconnected", 2)
    assert [m.action for m in rig.outbox(wid)].count("reconnect") == 2


async def test_closing_a_disconnected_account_sends_no_reconnection(rig: Rig) -> None:
    h, wid = await disconnect(rig, "PC1")
    closure = await rig.start("closure", ClosureInput("PC1", "REQ1"), "closure:PC1")
    await rig.complete(
        closure,
        await rig.task("closure:PC1", "final_meter_reading"),
        outcome="read",
        reading_kwh=100.0,
    )
    await rig.complete(
        closure, await rig.task("closure:PC1", "closure_settlement"), outcome="settled"
    )
    assert (await closure.result()).outcome == "closed"
    assert (await h.result()).outcome == "closed_disconnected"
    assert "reconnect" not in [m.action for m in rig.outbox(wid)]
    assert not rig.tasks(wid, "open")


@pytest.mark.parametrize("jurisdiction", ["cn", "au_nerr"])
async def test_same_ladder_under_each_jurisdiction(rig: Rig, jurisdiction: str) -> None:
    bundle = rules.load_bundle_from_texts(texts_for(jurisdiction))
    cid = f"PJ-{jurisdiction}"
    with rig.sessions.begin() as s:
        policy_store.register(s, bundle, "test")
        s.add(
            Customer(
                customer_id=cid,
                category="residential",
                contacts={"phone": "+61 400 000 000", "wechat": "wx"},
            )
        )
        s.flush()
        s.add(
            Assignment(
                customer_id=cid,
                policy_version=bundle.version,
                category="residential",
                abc_class="C",
                tags=[],
                points_tier="standard",
                actions={},
                processes={},
            )
        )
    wid = f"arrears:{cid}:B1"
    h = await rig.start("arrears", ArrearsInput(cid, "B1", 60.0), wid)
    await to_notice(rig, h, wid)
    await rig.drive(lambda: cut(rig, wid), limit=60 * DAY)
    [at] = check_cutoffs(rig, wid)
    # the notice the order relied on (a protected period may have made notice0 stale)
    order = next(m for m in rig.outbox(wid) if m.action == "disconnect")
    notice = datetime.fromisoformat(order.payload["data"]["notice_delivered_at"])
    lead_days = (at - notice).total_seconds() / DAY
    if jurisdiction == "au_nerr":
        local = at.astimezone(ZoneInfo("Australia/Sydney"))
        assert local.isoweekday() <= 4 and "08:00" <= f"{local:%H:%M}" < "15:00"
        assert 7 <= lead_days <= 14
    else:
        local = at.astimezone(ZoneInfo("Asia/Shanghai"))
        assert local.isoweekday() <= 5 and 3 <= lead_days <= 7
    assert rig.outbox(wid)[-1].payload["data"]["jurisdiction"] == jurisdiction
    with rig.sessions() as s:
        pack = evidence_pack(s, wid)
    [c] = pack["disconnections"]
    floor = c["floor"]
    lo, hi = floor["notice_lead_days"]["required"]
    assert lo <= floor["notice_lead_days"]["observed"] <= hi
    assert floor["renotice_lead_seconds"]["observed"] >= 1800
    assert floor["articles"]["notice_lead"] in floor["notice_lead_days"]["rule"]
    sends = [d for n in pack["notices"] for d in n["deliveries"]]
    assert {d["channel"] for d in sends if d["delivered"]} >= {"sms", "wechat"}
    assert all(d["to"] is None or d["to"].startswith("…") or len(d["to"]) <= 4 for d in sends)
    assert pack["renotices"] and pack["renotices"][0]["deliveries"]
    final = [k for k in pack["protection_checks"] if k["check_id"] == c["check_id"]]
    assert final[0]["decision"] == "proceed" and final[0]["jurisdiction"] == jurisdiction
    await h.signal("payment", PaymentSignal(60.0, settled=True))
    await rig.complete(h, await rig.task(wid, "reconnection"), outcome="reconnected")
    assert (await h.result()).outcome == "reconnected"


def test_evidence_pack_only_for_arrears_ladders(rig: Rig) -> None:
    with rig.sessions() as s, pytest.raises(EvidenceNotFound):
        evidence_pack(s, "hazard:X:1")
    with rig.sessions() as s, pytest.raises(EvidenceNotFound):
        evidence_pack(s, "arrears:nobody:B1")


async def test_one_ladder_per_customer_takes_every_bill(rig: Rig) -> None:
    rig.customer("PB1")
    client, queue = rig.env.client, rig.queue
    first = await workflow_starts.join_arrears(client, queue, ArrearsInput("PB1", "B1", 50.0))
    second = await workflow_starts.join_arrears(client, queue, ArrearsInput("PB1", "B2", 70.0))
    wid = "arrears:PB1"
    assert first.workflow_id == second.workflow_id == wid
    rig.started.append(wid)
    h = client.get_workflow_handle(wid, result_type=ProcessResult)
    await rig.drive(lambda: len(rig.outbox(wid)) >= 1)
    assert set((await rig.state(h)).facts["bills"]) == {"B1", "B2"}
    await rig.advance(2 * DAY)
    assert [m.action for m in rig.outbox(wid)] == ["sms_reminder"]  # one ladder, one reminder
    await h.signal("payment", PaymentSignal(120.0, settled=True))
    assert (await h.result()).outcome == "settled"


async def test_registration_review_opens_ahead_of_expiry(rig: Rig) -> None:
    rig.customer("PV1")
    today = (await rig.env.get_current_time()).date()
    end = today + timedelta(days=40)
    done = reviews.register(
        rig.sessions, "PV1", "REG-PV1", "life_support", "CERT-9", "Dr. Ma", LONG_AGO, end, "crm"
    )
    wid = "registration:REG-PV1"
    [start] = done.transitions
    assert (done.review_workflow, start["op"]) == (wid, "start")
    # what the relay applies: the queued start (this rig's store is shared by every test, so
    # the row is applied here rather than by a relay draining everyone's rows)
    with rig.sessions() as s:
        queued = s.scalars(select(Transition).where(Transition.workflow_id == wid)).one()
    inp = RegistrationReviewInput(**queued.payload)
    await rig.env.client.start_workflow("registration_review", inp, id=wid, task_queue=rig.queue)
    rig.started.append(wid)
    h = rig.env.client.get_workflow_handle(wid, result_type=ProcessResult)
    task = await rig.task(wid, "registration_review")
    opened = await rig.env.get_current_time()
    assert end - timedelta(days=31) <= opened.date() <= end - timedelta(days=29)
    renewed = end + timedelta(days=365)
    await rig.complete(h, task, outcome="renewed", valid_to=renewed.isoformat())
    await rig.drive(lambda: (rig.steps(wid).get("reviewed") or {}).get("outcome") == "renewed")
    with rig.sessions() as s:
        assert s.get(Registration, "REG-PV1").valid_to == renewed
    # the renewed certificate's review is decided through the API this time
    decided = reviews.review(rig.sessions, "REG-PV1", "ended", None, "supervisor.wang")
    [told] = decided.transitions
    with rig.sessions() as s:
        row = s.scalars(
            select(Transition).where(Transition.request_id == told["transition_id"])
        ).one()
    await h.signal(row.signal or "", RegistrationReviewed(**row.payload))
    assert (await h.result()).outcome == "ended"
