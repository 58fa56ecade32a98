"""Typed process plans (workflows/process_plans.py): what `load_plan` hands the processes.

The typed plan is built from the bundle's typed parameters; its wire format must stay the
one of the parameter dict it replaced, so plans recorded in older histories still decode.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from temporalio.converter import DataConverter

import rules
from activities.process_plans import (
    callback_plan,
    closure_plan,
    hazard_plan,
    one_task_plan,
    outage_plan,
    scheduled_plan,
    service_request_plan,
    visit_plan,
)
from tests.workflows.legacy_plans import legacy_plan, with_seconds
from workflows.process_plans import (
    CallbackPlan,
    ClosurePlan,
    HazardPlan,
    OneTaskPlan,
    OutagePlan,
    ScheduledPlan,
    ServiceRequestPlan,
    VisitPlan,
)

POLICIES = Path(__file__).resolve().parents[2] / "policies"
HISTORIES = Path(__file__).parent / "histories"
DAY = 86400.0
FACTS = {"category": "important", "backup_power_compliant": False}


def _decode(value: Any, kind: type[Any]) -> Any:
    conv = DataConverter.default.payload_converter
    return conv.from_payloads(conv.to_payloads([value]), [kind])[0]


def test_hazard_plan_is_typed_from_the_policy() -> None:
    bundle = rules.load_bundle(POLICIES)
    plan = hazard_plan(bundle, {}, FACTS)
    p = plan.params
    assert plan.active and plan.policy_version == bundle.version
    assert (p.deadline.of("general"), p.deadline.of("critical")) == (30 * 86400.0, 3 * 86400.0)
    assert p.reinspection.task == "reinspection" and p.reinspection.due_seconds == 5 * 86400.0
    assert p.authority_report is not None and p.authority_report.assignee_role == "supervisor"
    assert p.reinspection_escalation is not None
    assert p.reinspection_escalation.to_role == "supervisor"
    assert (p.closed_loop, p.authority_reporting, p.customer) == (False, False, FACTS)


def test_strategy_switches_override_and_only_booleans_count() -> None:
    bundle = rules.load_bundle(POLICIES)
    p = hazard_plan(bundle, {"closed_loop": True, "authority_reporting": "yes"}, {}).params
    assert p.closed_loop is True
    assert p.authority_reporting is False  # not a boolean: the policy default stays


def test_a_plan_recorded_as_a_dict_decodes_into_the_typed_plan() -> None:
    # what load_plan answered before the plan was typed (recorded histories hold it)
    bundle = rules.load_bundle(POLICIES)
    params = {**bundle.processes["hazard"], "closed_loop": True, "customer": FACTS}
    old = legacy_plan(True, bundle.version, with_seconds(params))
    decoded = _decode(old, HazardPlan)
    assert decoded == hazard_plan(bundle, {"closed_loop": True}, FACTS)
    # and an inactive one (no parameters at all)
    gone = _decode(legacy_plan(False, "v1", {}, "customer gone"), HazardPlan)
    assert (gone.active, gone.reason) == (False, "customer gone")
    assert gone.params.report_severities == []


def test_closure_plan_is_typed_and_the_strategy_asks_for_the_inspection() -> None:
    bundle = rules.load_bundle(POLICIES)
    p = closure_plan(bundle, {}, FACTS).params
    assert p.inspection_required is False
    assert (p.theft_case.task, p.theft_case.due_seconds) == ("theft_case", 15 * 86400.0)
    assert (p.settlement.assignee_role, p.final_reading.due_seconds) == ("agent", 3 * 86400.0)
    assert closure_plan(bundle, {"inspection_required": True}, {}).params.inspection_required


def test_a_closure_plan_recorded_as_a_dict_decodes_into_the_typed_plan() -> None:
    bundle = rules.load_bundle(POLICIES)
    params = {**bundle.processes["closure"], "inspection_required": True, "customer": FACTS}
    old = legacy_plan(True, bundle.version, with_seconds(params))
    assert _decode(old, ClosurePlan) == closure_plan(bundle, {"inspection_required": True}, {})


def test_callback_plan_is_typed_and_the_strategy_sets_the_period() -> None:
    bundle = rules.load_bundle(POLICIES)
    p = callback_plan(bundle, {}, FACTS).params
    assert (p.period(), p.spread(), p.max_tries) == (91 * DAY, 91 * DAY, 3)
    assert p.task.block() == {"kind": "callback_call", "assignee_role": "agent",
                              "due_seconds": 5 * DAY}  # fmt: skip
    assert p.escalation is not None and p.escalation.after_seconds == 48 * 3600.0
    monthly = callback_plan(bundle, {"every": "P1M", "jitter": "free text"}, {}).params
    assert (monthly.period(), monthly.spread(), monthly.jitter_seconds) == (
        30 * DAY,
        91 * DAY,
        7 * DAY,  # not a duration: the policy's jitter stays
    )


def test_a_callback_plan_recorded_as_a_dict_decodes_to_the_same_waits() -> None:
    bundle = rules.load_bundle(POLICIES)
    params = {**bundle.processes["callback"], "every": "P1M", "customer": FACTS}
    old = _decode(legacy_plan(True, bundle.version, with_seconds(params)), CallbackPlan)
    new = callback_plan(bundle, {"every": "P1M"}, FACTS)
    # the recorded plan kept the strategy's period beside the policy's; both give one period
    assert (old.params.period(), old.params.spread()) == (new.params.period(), new.params.spread())
    assert (old.params.task, old.params.after_max_tries, old.params.escalation) == (
        new.params.task,
        new.params.after_max_tries,
        new.params.escalation,
    )


def test_service_request_plan_takes_the_strategy_sla_as_whole_hours() -> None:
    bundle = rules.load_bundle(POLICIES)
    p = service_request_plan(bundle, {}, FACTS).params
    assert (p.response_sla_hours, p.warn_at, p.escalation.to_role) == (72, 0.75, "supervisor")
    assert p.task.block()["kind"] == "service_request"
    assert (
        service_request_plan(bundle, {"response_sla_hours": 24}, {}).params.response_sla_hours == 24
    )
    assert (
        service_request_plan(bundle, {"response_sla_hours": "24"}, {}).params.response_sla_hours
        == 72
    )
    params = {**bundle.processes["service_request"], "response_sla_hours": 24, "customer": FACTS}
    old = legacy_plan(True, bundle.version, with_seconds(params))
    decoded = _decode(old, ServiceRequestPlan)
    decoded.params.escalation.after_seconds = 0.0  # recorded, never read (breach escalates)
    assert decoded == service_request_plan(bundle, {"response_sla_hours": 24}, FACTS)


def test_visit_plan_takes_the_strategy_period_and_decodes_from_the_dict() -> None:
    bundle = rules.load_bundle(POLICIES)
    p = visit_plan(bundle, {"visit_every": "P6M"}, FACTS).params
    assert (p.visit_every_seconds, p.jitter_seconds) == (183 * DAY, 3 * DAY)
    assert p.escalation is not None and p.escalation.after_seconds == 48 * 3600.0
    ignored = visit_plan(bundle, {"visit_every": 7}, {}).params  # no duration: the default
    assert ignored.visit_every_seconds == visit_plan(bundle, {}, {}).params.visit_every_seconds
    params = {**bundle.processes["key_account_visit"], "visit_every": "P6M", "customer": FACTS}
    old = legacy_plan(True, bundle.version, with_seconds(params))
    assert _decode(old, VisitPlan) == visit_plan(bundle, {"visit_every": "P6M"}, FACTS)


def test_scheduled_plan_takes_the_strategy_period_and_decodes_from_the_dict() -> None:
    bundle = rules.load_bundle(POLICIES)
    p = scheduled_plan("special_inspection", bundle, {"period": "P3M"}, FACTS).params
    assert (p.period_seconds, p.task.block()["kind"], p.escalation) == (
        91 * DAY,
        "special_inspection",
        None,
    )
    meeting = scheduled_plan("key_account_meeting", bundle, {}, {}).params
    assert (meeting.period_seconds, meeting.notice_channels) == (365 * DAY, ["sms", "wechat"])
    params = {**bundle.processes["special_inspection"], "period": "P3M", "customer": FACTS}
    old = legacy_plan(True, bundle.version, with_seconds(params))
    assert _decode(old, ScheduledPlan) == scheduled_plan(
        "special_inspection", bundle, {"period": "P3M"}, FACTS
    )


def _recorded(history: str, activity: str) -> list[Any]:
    """The results of `activity` in a recorded history, as the JSON the workflow decoded."""
    events = json.loads((HISTORIES / f"{history}.json").read_text())["events"]
    names = {
        e["eventId"]: e["activityTaskScheduledEventAttributes"]["activityType"]["name"]
        for e in events
        if "activityTaskScheduledEventAttributes" in e
    }
    return [
        json.loads(base64.b64decode(p["data"]))
        for e in events
        if (done := e.get("activityTaskCompletedEventAttributes"))
        and names[done["scheduledEventId"]] == activity
        for p in done["result"]["payloads"]
    ]


def test_outage_plan_is_typed_from_the_policy() -> None:
    bundle = rules.load_bundle(POLICIES)
    plan = outage_plan(bundle)
    p = plan.params
    assert plan.active and (p.lead_seconds, p.channels) == (7 * DAY, ["announcement"])
    assert p.pre_negotiation is not None and p.satisfaction_callback is not None
    negotiate = {"kind": "outage_pre_negotiation", "assignee_role": "agent", "due_seconds": 3 * DAY}
    assert p.pre_negotiation.task.block() == negotiate
    assert (p.satisfaction_callback.after_seconds, p.satisfaction_callback.task.kind) == (
        DAY,
        "outage_satisfaction_callback",
    )


def test_a_customer_strategy_sets_channels_lead_and_switches() -> None:
    bundle = rules.load_bundle(POLICIES)
    assert bundle.outage_notice is not None
    mine = bundle.outage_notice.for_customer(
        {
            "channels": ["sms", "wechat"],
            "lead": "P14D",
            "pre_negotiation_required": True,
            "satisfaction_callback_required": "yes",
        }
    )
    assert (mine.channels, mine.lead_seconds) == (("sms", "wechat"), 14 * DAY)
    assert mine.pre_negotiation_required is True
    assert mine.satisfaction_callback_required is False  # not a boolean: the default stays
    odd = bundle.outage_notice.for_customer({"lead": "soon", "channels": "sms"})
    assert (odd.lead_seconds, odd.channels) == (7 * DAY, ("announcement",))
    # a switch the policy has no task for stays off (a row written under an older bundle)
    bare = replace(bundle.outage_notice, negotiation=None)
    assert bare.for_customer({"pre_negotiation_required": True}).pre_negotiation_required is False


def test_the_recorded_outage_plan_decodes_into_the_typed_plan() -> None:
    # the outage history recorded the parameter dict (satisfaction call-back after PT2S)
    [recorded] = _recorded("outage", "load_process_params")
    assert "lead_seconds" in recorded["params"]  # really the old shape
    old = _decode(recorded, OutagePlan)
    p = old.params
    assert (old.active, p.lead_seconds, p.channels) == (True, 7 * DAY, ["announcement"])
    assert p.pre_negotiation is not None and p.pre_negotiation.task.due_seconds == 3 * DAY
    assert p.satisfaction_callback is not None and p.satisfaction_callback.after_seconds == 2.0
    bundle = rules.load_bundle(POLICIES)
    new = outage_plan(bundle).params
    assert (p.pre_negotiation, p.satisfaction_callback.task) == (
        new.pre_negotiation,
        new.satisfaction_callback.task if new.satisfaction_callback else None,
    )


def test_one_task_plans_decode_from_the_dict_whichever_key_named_the_task() -> None:
    bundle = rules.load_bundle(POLICIES)
    for name, key in (("outage_plan_review", "task"), ("service_follow_up", "kind")):
        plan = one_task_plan(name, bundle)
        assert plan.active and plan.params.task.block() == {
            "kind": name,
            "assignee_role": bundle.processes[name]["task"]["assignee_role"],
            "due_seconds": plan.params.task.due_seconds,
        }
        assert plan.params.task.due_seconds > 0
        assert key in bundle.processes[name]["task"]  # the policy names it this way
        old = _decode(legacy_plan(True, bundle.version, with_seconds(bundle.processes[name])),
                      OneTaskPlan)  # fmt: skip
        assert old.params.task.block() == plan.params.task.block()
    gone = one_task_plan("service_follow_up", replace(bundle, one_task={}))
    assert (gone.active, gone.reason) == (False, "no service_follow_up parameters in the policy")
