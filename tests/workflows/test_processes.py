"""Hazard, closure, key-account visit, service request and outage notice on the time-skipping
server with the real activities (histories for the replay test are recorded on the real dev
server by tests/workflows/record_histories.py)."""

from __future__ import annotations

from tests.workflows.conftest import DAY, Rig
from workflows.inputs import ClosureInput, Hazard, HazardInput, OutageInput, ServiceRequestInput
from workflows.signals import CancelSignal, CaseSettledSignal, RectificationSignal


async def test_hazard_closed_loop_reports_after_rounds(rig: Rig) -> None:
    rig.customer("H1")
    wid = "hazard:H1:I1"
    hazards = [
        Hazard("h1", "backup power not compliant", "serious"),
        Hazard("h2", "cable insulation", "general"),
    ]
    h = await rig.start("hazard", HazardInput("H1", "I1", hazards), wid)
    await h.signal("rectification_reported", RectificationSignal())
    task = await rig.task(wid, "reinspection")
    await rig.complete(
        h, task, results=[{"hazard_id": "h2", "fixed": True}, {"hazard_id": "h1", "fixed": False}]
    )
    assert rig.tasks(wid)[-1].status == "completed"  # closed before the Update returned
    # reported while round 1 winds up: round 2 re-inspects at once, not at its deadline
    before = await rig.env.get_current_time()
    await h.signal("rectification_reported", RectificationSignal())
    task2 = await rig.task(wid, "reinspection")
    assert task2.task_id != task.task_id
    assert (await rig.env.get_current_time() - before).total_seconds() < DAY
    await rig.complete(h, task2, results=[{"hazard_id": "h1", "fixed": False}])
    report = await rig.task(wid, "hazard_authority_report")
    assert report.queue == "supervisor"
    assert ("power_authority", "hazard_report") in [(m.adapter, m.action) for m in rig.outbox(wid)]
    task3 = await rig.task(wid, "reinspection")
    assert task3.task_id not in (task.task_id, task2.task_id)
    await rig.complete(h, task3, results=[{"hazard_id": "h1", "fixed": True}])
    result = await h.result()
    assert result.outcome == "closed" and result.facts["round"] == 3
    assert not rig.tasks(wid, "open")


async def test_hazard_cancel(rig: Rig) -> None:
    rig.customer("H2")
    wid = "hazard:H2:I1"
    h = await rig.start("hazard", HazardInput("H2", "I1", [Hazard("x", "d", "critical")]), wid)
    await rig.drive(lambda: rig.outbox(wid))
    await h.signal("cancel", CancelSignal("duplicate inspection", "supervisor.li"))
    assert (await h.result()).outcome == "cancelled"


async def test_closure_with_theft_case(rig: Rig) -> None:
    rig.customer(
        "K1",
        tags=("safety_high_risk",),
        arrears_amount=120.0,
        processes={"closure": {"inspection_required": True}},
    )
    wid = "closure:K1"
    h = await rig.start("closure", ClosureInput("K1", "REQ1"), wid)
    insp = await rig.task(wid, "closure_inspection")
    assert insp.queue == "inspector"
    await rig.complete(h, insp, outcome="theft_found", evidence="bypass wire", back_billing=800.0)
    await rig.task(wid, "theft_case")
    await h.signal("case_settled", CaseSettledSignal(amount_paid=800.0))
    reading = await rig.task(wid, "final_meter_reading")
    await rig.complete(h, reading, outcome="read", reading_kwh=12345.0)
    settle = await rig.task(wid, "closure_settlement")
    await rig.complete(h, settle, outcome="settled")
    result = await h.result()
    assert result.outcome == "closed"
    assert "callback:K1" in result.facts["ended_processes"] or result.facts["ended_processes"] == []
    with rig.sessions() as s:
        from store.models import Case, Customer

        assert s.get(Customer, "K1").status == "closed"
        assert s.get(Case, f"{wid}/case").status == "settled"


async def test_closure_without_inspection(rig: Rig) -> None:
    rig.customer("K2")
    wid = "closure:K2"
    h = await rig.start("closure", ClosureInput("K2"), wid)
    await rig.complete(
        h, await rig.task(wid, "final_meter_reading"), outcome="read", reading_kwh=1.0
    )
    await rig.complete(h, await rig.task(wid, "closure_settlement"), outcome="settled")
    assert (await h.result()).outcome == "closed"


async def test_service_request_warns_and_breaches(rig: Rig) -> None:
    rig.customer("S1", abc="A", processes={"service_request": {"response_sla_hours": 24}})
    wid = "service_request:S1:R1"
    h = await rig.start("service_request", ServiceRequestInput("S1", "R1", "billing"), wid)
    await rig.task(wid, "service_request")
    await rig.drive(lambda: "sla_breached" in rig.steps(wid))
    assert "sla_warning" in rig.steps(wid)
    task = rig.open_task(wid, "service_request")
    assert task is not None and task.queue == "supervisor"
    await rig.complete(h, task, outcome="resolved")
    assert (await h.result()).outcome == "breached"


async def test_service_request_met(rig: Rig) -> None:
    rig.customer("S2", abc="A", processes={"service_request": {"response_sla_hours": 24}})
    wid = "service_request:S2:R1"
    h = await rig.start("service_request", ServiceRequestInput("S2", "R1"), wid)
    await rig.complete(h, await rig.task(wid, "service_request"), outcome="responded")
    assert (await h.result()).outcome == "met"


async def test_visit_cycle_and_leave(rig: Rig) -> None:
    rig.customer(
        "V1",
        abc="A",
        actions={"visit_every": "P1M"},
        processes={"key_account_visit": {"visit_every": "P1M"}},
    )
    wid = "visit:V1"
    h = await rig.start(
        "visit",
        __import__("workflows.inputs", fromlist=["VisitInput"]).VisitInput("V1"),
        wid,
    )
    await rig.complete(
        h, await rig.task(wid, "key_account_visit"), outcome="visited", findings="transformer ok"
    )
    await rig.drive(lambda: [m for m in rig.outbox(wid) if m.action == "visit_result"])
    await h.signal("leave", __import__("workflows.signals", fromlist=["LeaveSignal"]).LeaveSignal())
    assert (await h.result()).outcome == "left"


async def test_outage_campaign(rig: Rig) -> None:
    rig.customer(
        "O1",
        category="important",
        tags=("outage_sensitive",),
        feeder_id="F1",
        outage_minutes_12m=300.0,
        processes={
            "outage_notice": {
                "channels": ["sms", "wechat"],
                "lead": "P7D",
                "pre_negotiation_required": True,
                "satisfaction_callback_required": True,
            }
        },
    )
    rig.customer("O2", feeder_id="F1")
    wid = "outage:F1:OUT1"
    now = await rig.env.get_current_time()
    starts, ends = (
        now + __import__("datetime").timedelta(days=10),
        now + __import__("datetime").timedelta(days=10, hours=6),
    )
    h = await rig.start(
        "outage", OutageInput("F1", "OUT1", starts.isoformat(), ends.isoformat()), wid
    )
    neg = await rig.task(wid, "outage_pre_negotiation")
    assert neg.customer_id == "O1"
    await rig.complete(h, neg, outcome="agreed")
    await rig.drive(lambda: len({m.customer_id for m in rig.outbox(wid)}) == 2)
    sat = await rig.task(wid, "outage_satisfaction_callback")
    await rig.complete(h, sat, outcome="satisfied")
    result = await h.result()
    assert result.outcome == "completed"
    assert result.facts["delivery"]["O1"] == ["sms", "wechat"]
    sends = [m.customer_id for m in rig.outbox(wid)]
    assert sends[0] == "O1"
