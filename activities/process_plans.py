"""Typed plans of the event-driven processes, from the bundle's typed parameters.

`load_plan` hands a process listed in `TYPED` its typed plan (workflows.process_plans)
instead of the parameter dict: the policy's typed parameters (built and checked when the
bundle loads) with the customer's strategy switches applied, plus the customer's facts.
`load_process_params` hands the processes that are not about one customer (`POLICY_TYPED`:
the outage campaign and the one-task processes) theirs. A bundle without them (it failed to
build them) gives an inactive plan with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import rules
from rules.arrears_params import TaskBlock
from rules.outage_params import ONE_TASK
from rules.scheduled_params import SCHEDULED
from workflows.arrears_payloads import TaskBlock as PlanTask
from workflows.process_plans import (
    CallbackPlan,
    CallbackTerms,
    CallTask,
    ClosurePlan,
    ClosureTerms,
    Deadlines,
    Escalation,
    HazardPlan,
    HazardTerms,
    Negotiation,
    OneTask,
    OneTaskPlan,
    OneTaskTerms,
    OutagePlan,
    OutageTask,
    OutageTerms,
    PolicyPlan,
    SatisfactionCall,
    ScheduledPlan,
    ScheduledTerms,
    ServiceRequestPlan,
    ServiceRequestTerms,
    TypedPlan,
    VisitPlan,
    VisitTerms,
)


def _task(t: TaskBlock) -> PlanTask:
    return PlanTask(t.task, t.assignee_role, t.due_seconds)


def hazard_plan(
    bundle: rules.Bundle, overrides: dict[str, Any], facts: dict[str, Any]
) -> HazardPlan:
    """The hazard process's plan for one customer."""
    if bundle.hazard is None:
        return HazardPlan(False, bundle.version, reason="no hazard parameters in the policy")
    h = bundle.hazard.with_overrides(overrides)
    deadline = {f"{s}_seconds": secs for s, secs in h.deadline_seconds}
    terms = HazardTerms(
        deadline=Deadlines(**deadline),
        reinspection=_task(h.reinspection),
        rounds_before_authority_report=h.rounds_before_authority_report,
        report_severities=list(h.report_severities),
        notice_channels=list(h.notice_channels),
        authority_report=_task(h.authority_report) if h.authority_report else None,
        authority_reporting=h.authority_reporting,
        closed_loop=h.closed_loop,
        reinspection_escalation=Escalation(h.reinspection_escalation_to)
        if h.reinspection_escalation_to
        else None,
        customer=facts,
    )
    return HazardPlan(True, bundle.version, terms)


def closure_plan(
    bundle: rules.Bundle, overrides: dict[str, Any], facts: dict[str, Any]
) -> ClosurePlan:
    """The closure process's plan for one customer (it branches on no customer fact)."""
    if bundle.closure is None:
        return ClosurePlan(False, bundle.version, reason="no closure parameters in the policy")
    c = bundle.closure.with_overrides(overrides)
    terms = ClosureTerms(
        inspection_required=c.inspection_required,
        inspection=_task(c.inspection),
        theft_case=_task(c.theft_case),
        final_reading=_task(c.final_reading),
        settlement=_task(c.settlement),
    )
    return ClosurePlan(True, bundle.version, terms)


def callback_plan(
    bundle: rules.Bundle, overrides: dict[str, Any], facts: dict[str, Any]
) -> CallbackPlan:
    """The call-back's plan for one customer (the strategy's `every` is its period)."""
    if bundle.callback is None:
        return CallbackPlan(False, bundle.version, reason="no callback parameters in the policy")
    c = bundle.callback.with_overrides(overrides)
    terms = CallbackTerms(
        period_seconds=c.period_seconds,
        jitter_seconds=c.jitter_seconds,
        first_cycle_spread_seconds=c.first_cycle_spread_seconds,
        task=CallTask(c.call.task, c.call.assignee_role, c.call.due_seconds),
        retry_after_seconds=c.retry_after_seconds,
        max_tries=c.max_tries,
        after_max_tries=_task(c.visit),
        escalation=Escalation(c.escalation_to, c.escalation_after_seconds),
    )
    return CallbackPlan(True, bundle.version, terms)


def service_request_plan(
    bundle: rules.Bundle, overrides: dict[str, Any], facts: dict[str, Any]
) -> ServiceRequestPlan:
    """The service request's plan for one customer (the strategy's SLA wins)."""
    if bundle.service_request is None:
        reason = "no service_request parameters in the policy"
        return ServiceRequestPlan(False, bundle.version, reason=reason)
    c = bundle.service_request.with_overrides(overrides)
    terms = ServiceRequestTerms(
        response_sla_hours=c.response_sla_hours,
        warn_at=c.warn_at,
        task=CallTask(c.task.task, c.task.assignee_role, c.task.due_seconds),
        escalation=Escalation(c.escalation_to),
        customer=facts,
    )
    return ServiceRequestPlan(True, bundle.version, terms)


def visit_plan(bundle: rules.Bundle, overrides: dict[str, Any], facts: dict[str, Any]) -> VisitPlan:
    """The key-account visit's plan for one customer (the strategy's `visit_every` wins)."""
    if bundle.key_account_visit is None:
        reason = "no key_account_visit parameters in the policy"
        return VisitPlan(False, bundle.version, reason=reason)
    c = bundle.key_account_visit.with_overrides(overrides)
    terms = VisitTerms(
        visit_every_seconds=c.visit_every_seconds,
        jitter_seconds=c.jitter_seconds,
        task=CallTask(c.task.task, c.task.assignee_role, c.task.due_seconds),
        escalation=Escalation(c.escalation_to, c.escalation_after_seconds)
        if c.escalation_to
        else None,
        customer=facts,
    )
    return VisitPlan(True, bundle.version, terms)


def scheduled_plan(
    name: str, bundle: rules.Bundle, overrides: dict[str, Any], facts: dict[str, Any]
) -> ScheduledPlan:
    """A scheduled-task process's plan for one customer (the strategy's `period` wins)."""
    typed = bundle.scheduled.get(name)
    if typed is None:
        return ScheduledPlan(False, bundle.version, reason=f"no {name} parameters in the policy")
    c = typed.with_overrides(overrides)
    terms = ScheduledTerms(
        period_seconds=c.period_seconds,
        jitter_seconds=c.jitter_seconds,
        notice_channels=list(c.notice_channels),
        task=CallTask(c.task.task, c.task.assignee_role, c.task.due_seconds),
        escalation=Escalation(c.escalation_to, c.escalation_after_seconds)
        if c.escalation_to
        else None,
        customer=facts,
    )
    return ScheduledPlan(True, bundle.version, terms)


def inactive(process: str, version: str, reason: str) -> TypedPlan:
    """A plan of `process`'s plan type that runs nothing (the customer is gone, ...)."""
    return PLAN_TYPES[process](False, version, reason=reason)


PlanBuilder = Callable[[rules.Bundle, dict[str, Any], dict[str, Any]], TypedPlan]
# the plan type of each process in TYPED
PLAN_TYPES: dict[str, Callable[..., TypedPlan]] = {
    "callback": CallbackPlan,
    "hazard": HazardPlan,
    "closure": ClosurePlan,
    "service_request": ServiceRequestPlan,
    "key_account_visit": VisitPlan,
    **{name: ScheduledPlan for name in SCHEDULED},
}
# processes whose workflows read a typed plan (the others still get the parameter dict)
TYPED: dict[str, PlanBuilder] = {
    "callback": callback_plan,
    "hazard": hazard_plan,
    "closure": closure_plan,
    "service_request": service_request_plan,
    "key_account_visit": visit_plan,
    **{name: partial(scheduled_plan, name) for name in SCHEDULED},
}


def _outage_task(t: TaskBlock) -> OutageTask:
    return OutageTask(t.task, t.assignee_role, t.due_seconds)


def outage_plan(bundle: rules.Bundle) -> OutagePlan:
    """The outage campaign's policy defaults (customers' own terms come per feeder)."""
    o = bundle.outage_notice
    if o is None:
        return OutagePlan(False, bundle.version, reason="no outage_notice parameters in the policy")
    terms = OutageTerms(
        lead_seconds=o.lead_seconds,
        channels=list(o.channels),
        pre_negotiation_required=o.pre_negotiation_required,
        pre_negotiation=Negotiation(_outage_task(o.negotiation)) if o.negotiation else None,
        satisfaction_callback_required=o.satisfaction_callback_required,
        satisfaction_callback=SatisfactionCall(
            o.satisfaction_after_seconds, _outage_task(o.satisfaction)
        )
        if o.satisfaction
        else None,
    )
    return OutagePlan(True, bundle.version, terms)


def one_task_plan(name: str, bundle: rules.Bundle) -> OneTaskPlan:
    """A one-task process's plan (outage_plan_review, service_follow_up)."""
    typed = bundle.one_task.get(name)
    if typed is None:
        return OneTaskPlan(False, bundle.version, reason=f"no {name} parameters in the policy")
    t = typed.task
    task = OneTask(kind=t.task, assignee_role=t.assignee_role, due_seconds=t.due_seconds)
    return OneTaskPlan(True, bundle.version, OneTaskTerms(task))


# processes not about one customer, whose workflows read a typed plan
POLICY_TYPED: dict[str, Callable[[rules.Bundle], PolicyPlan]] = {
    "outage_notice": outage_plan,
    **{name: partial(one_task_plan, name) for name in ONE_TASK},
}
