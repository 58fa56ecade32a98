"""Strategies that act (issue 14) on the time-skipping server with the real activities:
named account manager routing, fallback when away, per-strategy SLA and inbox priority,
proactive follow-up, and the scheduled-task processes (meeting, 360 record, special
inspection with the immediate authority report, electrician training)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from store.models import Customer, StaffAway
from tests.workflows.conftest import DAY, Rig
from workflows.inputs import ScheduledInput, ServiceRequestInput
from workflows.signals import LeaveSignal

KEY = {
    "account_manager": True,
    "priority_call_routing": True,
    "green_channel": True,
    "response_sla_hours": 24,
    "service_channel": "account_manager",
}
MANAGER = {"phone": "+86 138 0000 0001", "account_manager": "mgr.li"}


def _due_hours(task: object) -> float:
    due = task.due_at  # type: ignore[attr-defined]
    created = task.created_at  # type: ignore[attr-defined]
    return float((due - created).total_seconds() / 3600)


async def test_key_account_task_reaches_its_manager_with_its_sla(rig: Rig) -> None:
    rig.customer(
        "STK1",
        category="large",
        abc="A",
        actions=KEY,
        processes={"service_request": {"response_sla_hours": 24}},
        contacts=MANAGER,
    )
    rig.customer("STP1")  # no strategy: the policy default SLA, the shared queue
    hk = await rig.start(
        "service_request", ServiceRequestInput("STK1", "R1"), "service_request:STK1:R1"
    )
    hp = await rig.start(
        "service_request", ServiceRequestInput("STP1", "R1"), "service_request:STP1:R1"
    )
    key = await rig.task("service_request:STK1:R1", "service_request")
    plain = await rig.task("service_request:STP1:R1", "service_request")
    assert key.assignee == "mgr.li" and key.queue == "agent"
    assert key.priority == 30  # priority_call_routing wins over green_channel (20)
    assert key.context["green_channel"] is True
    assert key.context["service_channel"] == "account_manager"
    assert key.context["routing"] == "named account manager"
    assert round(_due_hours(key)) == 24
    assert plain.assignee is None and plain.priority == 0
    assert round(_due_hours(plain)) == 72  # processes.yaml default for everyone else
    await rig.complete(hk, key, actor="mgr.li", outcome="resolved")
    await rig.complete(hp, plain, outcome="resolved")
    assert (await hk.result()).outcome == "met"


async def test_manager_away_falls_back_to_the_queue(rig: Rig) -> None:
    rig.customer("STK2", abc="A", actions=KEY, contacts={**MANAGER, "account_manager": "mgr.wu"})
    with rig.sessions.begin() as s:
        s.add(
            StaffAway(
                principal="mgr.wu",
                until=datetime.now(UTC) + timedelta(days=3650),
                reason="leave",
                set_by="sup",
            )
        )
    h = await rig.start(
        "service_request", ServiceRequestInput("STK2", "R1"), "service_request:STK2:R1"
    )
    task = await rig.task("service_request:STK2:R1", "service_request")
    assert task.assignee is None and task.queue == "agent"
    assert task.context["routing"] == "account manager mgr.wu away: role queue"
    assert task.priority == 30  # still first in the queue
    await rig.complete(h, task, outcome="resolved")


async def test_proactive_service_follows_up(rig: Rig) -> None:
    rig.customer("STB1", abc="B", actions={"proactive_service": True})
    wid = "service_request:STB1:R1"
    h = await rig.start("service_request", ServiceRequestInput("STB1", "R1"), wid)
    await rig.complete(h, await rig.task(wid, "service_request"), outcome="resolved")
    follow = await rig.task(wid, "service_follow_up")
    await rig.complete(h, follow, outcome="satisfied")
    assert (await h.result()).outcome == "met"
    assert rig.steps(wid)["follow_up"]["outcome"] == "satisfied"


async def test_special_inspection_reports_backup_power_at_once(rig: Rig) -> None:
    rig.customer(
        "STSI1",
        category="important",
        tags=("safety_high_risk",),
        actions={"inspection_every": "P3M"},
        processes={"special_inspection": {"period": "P3M"}},
    )
    wid = "special_inspection:STSI1"
    h = await rig.start("special_inspection", ScheduledInput("STSI1"), wid)
    task = await rig.task(wid, "special_inspection")
    assert task.queue == "inspector"
    await rig.complete(h, task, outcome="hazards_found", hazards=1, backup_power_compliant=False)
    await rig.drive(lambda: "reported_to_authority" in rig.steps(wid))
    sent = [(m.adapter, m.action) for m in rig.outbox(wid)]
    assert ("power_authority", "backup_power_report") in sent
    # the next inspection comes one strategy period (P3M, +- jitter/2) later
    opened = await rig.env.get_current_time()
    second = await rig.drive(
        lambda: next((t for t in rig.tasks(wid) if t.task_id != task.task_id), None),
        limit=120 * DAY,
    )
    gap = (await rig.env.get_current_time() - opened).total_seconds() / DAY
    assert second.context["cycle"] == 1
    assert 85 <= gap <= 98
    await h.signal("leave", LeaveSignal("segment left"))
    assert (await h.result()).outcome == "left"


async def test_record_verification_writes_corrections_back(rig: Rig) -> None:
    rig.customer(
        "STRV1",
        abc="A",
        actions={"contact_record_360": True, "account_manager": True},
        processes={"record_verification": {}},
        contacts=MANAGER,
    )
    wid = "record_verification:STRV1"
    h = await rig.start("record_verification", ScheduledInput("STRV1"), wid)
    task = await rig.task(wid, "record_verification")
    assert task.assignee == "mgr.li"  # the account manager keeps the 360 record
    await rig.complete(
        h, task, actor="mgr.li", outcome="corrected", contacts={"peak_shift_contact": "Wang"}
    )
    await rig.drive(lambda: any(m.action == "contact_update" for m in rig.outbox(wid)))
    with rig.sessions() as s:
        contacts = s.scalars(select(Customer.contacts).where(Customer.customer_id == "STRV1")).one()
    assert contacts["peak_shift_contact"] == "Wang"
    await h.signal("leave", LeaveSignal())
    assert (await h.result()).outcome == "left"


async def test_meeting_and_training_open_their_tasks(rig: Rig) -> None:
    rig.customer("STM1", abc="A", processes={"key_account_meeting": {}})
    rig.customer("STT1", tags=("safety_high_risk",), processes={"electrician_training": {}})
    hm = await rig.start("key_account_meeting", ScheduledInput("STM1"), "key_account_meeting:STM1")
    ht = await rig.start(
        "electrician_training", ScheduledInput("STT1"), "electrician_training:STT1"
    )
    meeting = await rig.task("key_account_meeting:STM1", "key_account_meeting")
    training = await rig.task("electrician_training:STT1", "electrician_training")
    assert meeting.queue == "agent" and training.queue == "inspector"
    notices = [m.action for m in rig.outbox("key_account_meeting:STM1")]
    assert "key_account_meeting" in notices  # the invitation went out
    await rig.complete(hm, meeting, outcome="attended")
    await rig.complete(ht, training, outcome="drill_held", participants=4)
    await rig.drive(lambda: "electrician_training" in rig.steps("electrician_training:STT1"))
    for h in (hm, ht):
        await h.signal("leave", LeaveSignal())
        assert (await h.result()).outcome == "left"


async def test_scheduled_process_ends_when_the_strategy_drops_it(rig: Rig) -> None:
    rig.customer("STL1")  # no special_inspection in its processes
    h = await rig.start("special_inspection", ScheduledInput("STL1"), "special_inspection:STL1")
    assert (await h.result()).outcome == "left"
