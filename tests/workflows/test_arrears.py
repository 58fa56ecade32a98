"""Arrears ladder on the time-skipping server with the real activities and shipped policy."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from activities import policy_store
from activities.process_activities import calendar_of
from tests.workflows.conftest import DAY, Rig
from workflows import calendar as cal
from workflows.arrears import eligible
from workflows.inputs import ArrearsInput
from workflows.signals import CancelSignal, InstalmentMissedSignal, PaymentPlanSignal, PaymentSignal

WINDOW = cal.NoticeWindow(3 * DAY, 7 * DAY, 1800.0, 5 * DAY)


def check_invariants(rig: Rig, wid: str, life_support: bool = False) -> dict[str, Any]:
    """Issue 4's arrears invariants, from the audit log and outbox of one run."""
    with rig.sessions() as s:
        calendar = calendar_of(policy_store.bundle_of_version(s, rig.version))
    audit = rig.audit(wid)
    t = lambda v: datetime.fromisoformat(v)  # noqa: E731
    notices = [
        t(e.detail["delivered_at"])
        for e in audit
        if e.action.startswith("workflow.notice") and e.action.endswith(".delivered")
    ]
    renotices = [
        t(e.detail["delivered_at"])
        for e in audit
        if e.action.startswith("workflow.renotice") and e.action.endswith(".delivered")
    ]
    settled = [
        t(e.detail["at"]) for e in audit if e.action == "workflow.payment" and e.detail["settles"]
    ]
    cuts = [t(m.payload["at"]) for m in rig.outbox(wid) if m.action == "disconnect"]
    assert len(cuts) <= 1
    for cut in cuts:
        assert not life_support
        assert any(cal.notice_valid(n, cut, WINDOW) for n in notices), (cut, notices)
        assert any((cut - r).total_seconds() >= 1800 for r in renotices)
        assert cal.is_allowed(cut, calendar)
        assert not settled or settled[0] > cut
    reconnect = [x for x in rig.tasks(wid) if x.kind == "reconnection"]
    if reconnect:
        assert reconnect[0].context["due_within_seconds"] <= 24 * 3600
    return {"cut": cuts, "settled": settled, "notices": notices}


async def ladder_to_notice(rig: Rig, h: Any, wid: str) -> None:
    await rig.complete(h, await rig.task(wid, "collection"), outcome="promised")
    await rig.complete(h, await rig.task(wid, "prepayment_conversion"), outcome="refused")


def test_eligibility_rule() -> None:
    protected = ["important", "key_attention"]
    assert eligible("not_prepaid_and_not_protected", {"category": "residential"}, protected)
    for facts in ({"prepaid_meter": True}, {"life_support": True}, {"category": "important"}):
        assert not eligible("not_prepaid_and_not_protected", facts, protected)
    assert eligible("always", {"life_support": True}, protected)
    assert not eligible("unknown", {}, protected)


async def test_full_ladder_disconnects_then_reconnects(rig: Rig) -> None:
    rig.customer("A1")
    wid = "arrears:A1:B1"
    h = await rig.start("arrears", ArrearsInput("A1", "B1", 420.0), wid)
    await ladder_to_notice(rig, h, wid)
    await rig.drive(lambda: any(m.action == "disconnect" for m in rig.outbox(wid)))
    outbox = [(m.adapter, m.action) for m in rig.outbox(wid)]
    assert outbox[:3] == [
        ("sms", "sms_reminder"),
        ("wechat", "wechat_reminder"),
        ("phone", "phone_reminder"),
    ]
    assert ("sms", "disconnection_notice") in outbox and ("phone", "renotice") in outbox
    assert ("meter_head_end", "disconnect") in outbox
    disc = await rig.task(wid, "disconnection")
    await rig.complete(h, disc, outcome="disconnected")
    await h.signal("payment", PaymentSignal(100.0, remaining=320.0))
    assert (await rig.state(h)).stage == "disconnected"  # partial payment: nothing moves
    await h.signal("payment", PaymentSignal(320.0, settled=True))
    task = await rig.task(wid, "reconnection")
    assert task.context["due_within_seconds"] <= 24 * 3600
    await rig.complete(h, task, outcome="reconnected")
    result = await h.result()
    assert result.outcome == "reconnected"
    assert ("meter_head_end", "reconnect") in [(m.adapter, m.action) for m in rig.outbox(wid)]
    check_invariants(rig, wid)
    assert not rig.tasks(wid, "open")


async def test_late_reconnection_is_escalated(rig: Rig) -> None:
    rig.customer("A2")
    wid = "arrears:A2:B1"
    h = await rig.start("arrears", ArrearsInput("A2", "B1", 50.0), wid)
    await ladder_to_notice(rig, h, wid)
    await rig.drive(lambda: any(m.action == "disconnect" for m in rig.outbox(wid)))
    await h.signal("payment", PaymentSignal(50.0, settled=True))
    task = await rig.task(wid, "reconnection")
    assert task.queue == "inspector"
    await rig.advance(25 * 3600)
    await rig.drive(lambda: rig.open_task(wid, "reconnection").queue == "supervisor")
    await rig.complete(h, rig.open_task(wid, "reconnection"), outcome="reconnected")
    assert (await h.result()).outcome == "reconnected"
    assert "reconnection.escalated" in rig.steps(wid)
    check_invariants(rig, wid)


async def test_payment_stops_the_ladder(rig: Rig) -> None:
    rig.customer("A3")
    wid = "arrears:A3:B1"
    h = await rig.start("arrears", ArrearsInput("A3", "B1", 80.0), wid)
    await rig.drive(lambda: len(rig.outbox(wid)) == 1)
    await h.signal("payment", PaymentSignal(80.0, settled=True))
    result = await h.result()
    assert result.outcome == "settled"
    assert [m.action for m in rig.outbox(wid)] == ["sms_reminder"]


async def test_plan_pauses_and_missed_instalment_resumes(rig: Rig) -> None:
    rig.customer("A4")
    wid = "arrears:A4:B1"
    h = await rig.start("arrears", ArrearsInput("A4", "B1", 80.0), wid)
    await rig.drive(lambda: len(rig.outbox(wid)) == 1)
    await h.signal("payment_plan", PaymentPlanSignal(3))
    await rig.drive(lambda: "paused" in rig.steps(wid))
    await rig.advance(30 * DAY)
    assert [m.action for m in rig.outbox(wid)] == ["sms_reminder"]  # nothing while paused
    await h.signal("instalment_missed", InstalmentMissedSignal())
    await rig.drive(lambda: len(rig.outbox(wid)) == 2)
    assert [m.action for m in rig.outbox(wid)] == ["sms_reminder", "wechat_reminder"]
    await h.signal("cancel", CancelSignal("write-off", "supervisor.wang"))
    result = await h.result()
    assert result.outcome == "cancelled"
    assert rig.steps(wid)["ended"]["reason"] == "write-off"


async def test_life_support_never_disconnected(rig: Rig) -> None:
    rig.customer("A5", life_support=True)
    wid = "arrears:A5:B1"
    h = await rig.start("arrears", ArrearsInput("A5", "B1", 80.0), wid)
    await ladder_to_notice_no_prepay(rig, h, wid)
    review = await rig.task(wid, "life_support_review")
    assert review.queue == "supervisor"
    await rig.complete(h, review, outcome="referred")
    await rig.advance(20 * DAY)
    await h.signal("payment", PaymentSignal(80.0, settled=True))
    assert (await h.result()).outcome == "settled"
    assert not [m for m in rig.outbox(wid) if m.action in ("disconnect", "disconnection_notice")]
    check_invariants(rig, wid, life_support=True)


async def ladder_to_notice_no_prepay(rig: Rig, h: Any, wid: str) -> None:
    await rig.complete(h, await rig.task(wid, "collection"), outcome="refused")


async def test_important_customer_needs_approval_and_filing(rig: Rig) -> None:
    rig.customer("A6", category="important", contacts={})  # no contacts: notice by hand
    wid = "arrears:A6:B1"
    h = await rig.start("arrears", ArrearsInput("A6", "B1", 900.0), wid)
    await ladder_to_notice_no_prepay(rig, h, wid)
    approval = await rig.task(wid, "disconnection_approval")
    await rig.complete(h, approval, outcome="approved")
    deliver = await rig.task(wid, "notice_delivery")
    await rig.complete(h, deliver, outcome="delivered")
    assert ("power_authority", "disconnection_notice_filing") in [
        (m.adapter, m.action) for m in rig.outbox(wid)
    ]
    renotice = await rig.drive(
        lambda: next(  # the re-notice by hand too
            (
                t
                for t in rig.tasks(wid, "open")
                if t.kind == "notice_delivery" and t.task_id != deliver.task_id
            ),
            None,
        ),
    )
    await rig.complete(h, renotice, outcome="delivered")
    await rig.drive(lambda: any(m.action == "disconnect" for m in rig.outbox(wid)))
    await h.signal("cancel", CancelSignal("supervisor decision"))
    task = await rig.task(wid, "reconnection")
    await rig.complete(h, task, outcome="reconnected")
    assert (await h.result()).outcome == "reconnected"
    check_invariants(rig, wid)


async def test_rejected_approval_means_no_cutoff(rig: Rig) -> None:
    rig.customer("A7", category="key_attention")
    wid = "arrears:A7:B1"
    h = await rig.start("arrears", ArrearsInput("A7", "B1", 10.0), wid)
    await ladder_to_notice_no_prepay(rig, h, wid)
    await rig.complete(h, await rig.task(wid, "disconnection_approval"), outcome="rejected")
    await rig.drive(lambda: "approval" in rig.steps(wid))
    await h.signal("payment", PaymentSignal(10.0, settled=True))
    assert (await h.result()).outcome == "settled"
    assert not [m for m in rig.outbox(wid) if m.action == "disconnection_notice"]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_payment_times_keep_the_invariants(rig: Rig, seed: int) -> None:
    rnd = random.Random(seed)
    cid = f"R{seed}"
    rig.customer(cid)
    wid = f"arrears:{cid}:B1"
    h = await rig.start("arrears", ArrearsInput(cid, "B1", 10.0), wid)
    await ladder_to_notice(rig, h, wid)
    pay_after = rnd.uniform(0, 12 * DAY)
    await rig.advance(pay_after)
    await h.signal("payment", PaymentSignal(10.0, settled=True))
    task = await rig.drive(
        lambda: rig.open_task(wid, "reconnection") or rig.steps(wid).get("ended")
    )
    if not isinstance(task, dict):
        await rig.complete(h, task, outcome="reconnected")
    result = await h.result()
    assert result.outcome in ("settled", "reconnected")
    found = check_invariants(rig, wid)
    assert (result.outcome == "reconnected") == bool(found["cut"])


OUTCOMES = {  # every completion the people working the arrears tasks may send
    "collection": ["paid_on_site", "promised", "refused", "not_found"],
    "prepayment_conversion": ["converted", "refused", "not_possible"],
    "disconnection_approval": ["approved", "rejected"],
    "notice_delivery": ["delivered", "not_delivered"],
    "life_support_review": ["acknowledged", "payment_arranged", "referred"],
    "disconnection": ["disconnected", "not_possible"],
    "reconnection": ["reconnected", "failed"],
}
_examples = iter(range(10**6))


# Whole workflow runs cost about a second each: few examples here; the calendar arithmetic
# underneath has its own thorough properties in test_calendar.py.
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    pay_after=st.floats(0, 40 * DAY),
    category=st.sampled_from(["residential", "important", "key_attention"]),
    life_support=st.booleans(),
    prepaid=st.booleans(),
    contacts=st.booleans(),
    data=st.data(),
)
async def test_any_payment_time_and_customer_keep_the_invariants(
    rig: Rig,
    pay_after: float,
    category: str,
    life_support: bool,
    prepaid: bool,
    contacts: bool,
    data: st.DataObject,
) -> None:
    cid = f"P{next(_examples)}"
    rig.started.clear()
    rig.customer(cid, category=category, life_support=life_support, prepaid_meter=prepaid,
                 contacts=None if contacts else {})  # fmt: skip
    wid = f"arrears:{cid}:B1"
    pay_at = await rig.env.get_current_time() + timedelta(seconds=pay_after)
    h = await rig.start("arrears", ArrearsInput(cid, "B1", 75.0), wid)
    paid = False
    for _ in range(40):
        found = await rig.drive(
            lambda: rig.steps(wid).get("ended") or rig.tasks(wid, "open"),
            until=None if paid else pay_at,
        )
        if found is None:
            await h.signal("payment", PaymentSignal(75.0, settled=True))
            paid = True
        elif isinstance(found, dict):
            break
        else:
            task = found[0]
            outcome = data.draw(st.sampled_from(OUTCOMES[task.kind]), label=task.kind)
            await rig.complete(h, task, outcome=outcome)
    else:
        raise AssertionError("the ladder never ended")
    result = await h.result()
    event(f"outcome {result.outcome}")
    assert result.outcome in ("settled", "reconnected")
    found_ = check_invariants(rig, wid, life_support=life_support)
    assert (result.outcome == "reconnected") == bool(found_["cut"])
    assert not rig.tasks(wid, "open")


def test_timedelta_sanity() -> None:
    assert WINDOW.planned == 5 * DAY and timedelta(seconds=WINDOW.renotice_lead).seconds == 1800
