"""Safety and outage strategies, and the feedback loop, on the time-skipping server:
authority reporting after the first failed re-inspection, closed-loop escalation of an overdue
re-inspection, the immediate report of an important customer's non-compliant backup power,
open hazards / theft records / outage counters / satisfaction written back, and objections
from outage pre-negotiation reaching the planner who moves the outage."""

from __future__ import annotations

from datetime import datetime, timedelta

from store.models import Customer
from tests.workflows.conftest import DAY, Rig
from workflows.inputs import (
    ArrearsInput,
    CallbackInput,
    ClosureInput,
    Hazard,
    HazardInput,
    OutageInput,
)
from workflows.signals import CancelSignal, LeaveSignal, RectificationSignal

RISKY = {"hazard": {"authority_reporting": True, "closed_loop": True}}


def _customer(rig: Rig, cid: str) -> Customer:
    with rig.sessions() as s:
        row = s.get(Customer, cid)
        assert row is not None
        return row


async def test_safety_strategy_reports_early_and_escalates(rig: Rig) -> None:
    rig.customer("SH1", tags=("safety_high_risk",), processes=RISKY, open_hazards=0)
    wid = "hazard:SH1:I1"
    hazards = [Hazard("h1", "exposed busbar", "serious"), Hazard("h2", "label", "general")]
    h = await rig.start("hazard", HazardInput("SH1", "I1", hazards), wid)
    await rig.drive(lambda: _customer(rig, "SH1").open_hazards == 2)  # found: written back
    await h.signal("rectification_reported", RectificationSignal())
    task = await rig.task(wid, "reinspection")
    assert task.queue == "inspector"
    # closed loop: nobody re-inspects within the task's due time -> the supervisor gets it
    escalated = await rig.drive(
        lambda: next((t for t in rig.tasks(wid, "open") if t.queue == "supervisor"), None)
    )
    assert escalated.task_id == task.task_id and escalated.context.get("escalated")
    await rig.complete(
        h,
        escalated,
        results=[{"hazard_id": "h2", "fixed": True}, {"hazard_id": "h1", "fixed": False}],
    )
    # authority_reporting: filed after round 1 (the default waits for 2 rounds)
    await rig.task(wid, "hazard_authority_report")
    assert rig.steps(wid)["reported_to_authority"]["round"] == 1
    assert _customer(rig, "SH1").open_hazards == 1
    await h.signal("cancel", CancelSignal("test", "sup"))
    await h.result()


async def test_important_backup_power_reported_at_once(rig: Rig) -> None:
    rig.customer("SH2", category="important", backup_power_compliant=False)
    wid = "hazard:SH2:I1"
    h = await rig.start("hazard", HazardInput("SH2", "I1", [Hazard("b", "backup", "serious")]), wid)
    await rig.drive(lambda: any(m.action == "backup_power_report" for m in rig.outbox(wid)))
    assert rig.steps(wid)["reported_to_authority"]["reason"] == "backup_power"
    await h.signal("rectification_reported", RectificationSignal())
    task = await rig.task(wid, "reinspection")
    await rig.complete(h, task, results=[{"hazard_id": "b", "fixed": True}])
    assert (await h.result()).outcome == "closed"
    assert _customer(rig, "SH2").open_hazards == 0


async def test_closure_theft_writes_back(rig: Rig) -> None:
    rig.customer("CL1", processes={"closure": {"inspection_required": True}})
    wid = "closure:CL1"
    h = await rig.start("closure", ClosureInput("CL1", "REQ1"), wid)
    task = await rig.task(wid, "closure_inspection")
    await rig.complete(h, task, outcome="theft_found", evidence="bypass", back_billing=100.0)
    await rig.drive(lambda: _customer(rig, "CL1").theft_records_24m == 1)
    await h.signal("cancel", CancelSignal("test", "sup"))
    await h.result()


async def test_outage_objection_moves_the_outage_and_counts(rig: Rig) -> None:
    negotiate = {"pre_negotiation_required": True, "satisfaction_callback_required": True,
                 "lead": "P7D", "channels": ["sms"]}  # fmt: skip
    rig.customer("OP1", category="important", tags=("outage_sensitive",), feeder_id="FP1",
                 outage_count_12m=2, outage_minutes_12m=120.0,
                 processes={"outage_notice": negotiate})  # fmt: skip
    rig.customer("OP2", feeder_id="FP1")
    wid = "outage:FP1:OUT1"
    now = await rig.env.get_current_time()
    starts, ends = now + timedelta(days=10), now + timedelta(days=10, hours=4)
    h = await rig.start(
        "outage", OutageInput("FP1", "OUT1", starts.isoformat(), ends.isoformat()), wid
    )
    neg = await rig.task(wid, "outage_pre_negotiation")
    await rig.complete(h, neg, outcome="reschedule_requested", note="production run that day")
    review = await rig.task(wid, "outage_plan_review")
    assert review.queue == "supervisor"
    assert review.context["objections"] == {"OP1": "reschedule_requested"}
    moved_starts, moved_ends = starts + timedelta(days=7), starts + timedelta(days=7, hours=2)
    await rig.complete(h, review, outcome="moved", starts_at=moved_starts.isoformat(),
                       ends_at=moved_ends.isoformat())  # fmt: skip
    await rig.drive(lambda: len({m.customer_id for m in rig.outbox(wid)}) == 2, limit=40 * DAY)
    notice = next(m for m in rig.outbox(wid) if m.customer_id == "OP1")
    assert notice.payload["data"]["starts_at"] == moved_starts.isoformat()
    sat = await rig.task(wid, "outage_satisfaction_callback")
    await rig.complete(h, sat, outcome="dissatisfied")
    assert (await h.result()).outcome == "completed"
    op1, op2 = _customer(rig, "OP1"), _customer(rig, "OP2")
    assert (op1.outage_count_12m, op1.outage_minutes_12m) == (3, 240.0)  # 120 + the 2 h moved
    assert (op2.outage_count_12m, op2.outage_minutes_12m) == (1, 120.0)
    assert op1.satisfaction == "dissatisfied"
    assert datetime.fromisoformat(rig.steps(wid)["plan_moved"]["starts_at"]) == moved_starts


async def test_arrears_risk_strategy_changes_the_ladder(rig: Rig) -> None:
    risky = {"arrears": {"early_reminder": True, "onsite_collection_early": True,
                         "tracking": True, "prepayment_recommended": True}}  # fmt: skip
    rig.customer("AR1", tags=("arrears_high_risk",), processes=risky)
    rig.customer("AR2")  # no strategy: the shipped ladder
    h1 = await rig.start("arrears", ArrearsInput("AR1", "B1", 300.0), "arrears:AR1:B1")
    h2 = await rig.start("arrears", ArrearsInput("AR2", "B1", 300.0), "arrears:AR2:B1")
    start = await rig.env.get_current_time()
    await rig.task("arrears:AR1:B1", "collection")
    # on-site collection right after the SMS reminder, at most a day later (not after 9 days)
    assert (await rig.env.get_current_time() - start).total_seconds() <= DAY + 60
    steps = rig.steps("arrears:AR1:B1")
    assert steps["strategy"]["ladder"][:2] == ["sms_reminder", "onsite_collection"]
    assert steps["strategy"]["tracking"] is True
    assert ("crm", "habitual_arrears") in [
        (m.adapter, m.action) for m in rig.outbox("arrears:AR1:B1")
    ]
    assert "strategy" not in rig.steps("arrears:AR2:B1")
    assert rig.open_task("arrears:AR2:B1", "collection") is None  # still in its reminders
    for h in (h1, h2):
        await h.signal("cancel", CancelSignal("test", "sup"))
        await h.result()


async def test_unreachable_callback_counts_in_channel_data(rig: Rig) -> None:
    rig.customer("UC1", processes={"callback": {}})
    wid = "callback:UC1"
    h = await rig.start("callback", CallbackInput("UC1"), wid)
    task = await rig.task(wid, "callback_call")
    await rig.complete(h, task, outcome="unreachable")
    await rig.drive(lambda: _customer(rig, "UC1").unreachable_12m == 1)
    second = await rig.drive(
        lambda: next((t for t in rig.tasks(wid, "open") if t.task_id != task.task_id), None)
    )
    await rig.complete(h, second, outcome="contact_updated", contacts={"phone": "+86 139 1"})
    # the correction reaches the record and goes to the CRM through its adapter
    await rig.drive(lambda: any(m.action == "contact_update" for m in rig.outbox(wid)))
    assert _customer(rig, "UC1").contacts["phone"] == "+86 139 1"
    assert _customer(rig, "UC1").unreachable_12m == 1
    await h.signal("leave", LeaveSignal())
