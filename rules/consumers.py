"""Which code acts on each action parameter of the shipped strategies (the consumer inventory).

A strategy parameter that nothing reads is a promise the service does not keep. Every
parameter of the shipped bundle has an entry here naming the file that reads it, the key it
reads there (the parameter itself, or the process parameter it feeds through a `processes`
link of strategies.yaml) and what it changes. `tests/rules/test_consumers.py` fails when a
shipped parameter has no entry, when the named file does not read the key, or when a link
named here is missing; docs/policies.md ("What each action does") says the same in prose.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Consumer:
    """Where a parameter is acted on: `where` reads `reads` (through process `via`, if set)."""

    where: str  # file, relative to the repository root
    reads: str  # the key read there: the parameter, or the process parameter it feeds
    does: str
    via: str | None = None  # the strategies.yaml `processes` link that carries it


# Parameters whose consumer is still being built: carried into assignments, acted on by
# nothing yet. The consumer test checks they are NOT read yet (so the mark cannot go stale).
PENDING: frozenset[str] = frozenset()


_ROUTING = "activities/routing.py"
_OFFERS = "services/offers.py"

CONSUMERS: dict[str, Consumer] = {
    "account_manager": Consumer(
        _ROUTING, "account_manager", "the customer's tasks go to the named account manager"
    ),
    "priority_call_routing": Consumer(
        _ROUTING, "priority_call_routing", "the customer's tasks rank first in the inbox"
    ),
    "green_channel": Consumer(
        _ROUTING, "green_channel", "green-channel tasks rank first and are marked as such"
    ),
    "fast_lane": Consumer(_ROUTING, "fast_lane", "points-tier fast lane: tasks rank higher"),
    "service_channel": Consumer(
        _ROUTING, "service_channel", "who serves the customer; shown on each task"
    ),
    "response_sla_hours": Consumer(
        "rules/process_params.py",
        "response_sla_hours",
        "service-request SLA: task due time, warning and breach escalation",
        via="service_request",
    ),
    "proactive_service": Consumer(
        "workflows/key_account.py",
        "proactive_service",
        "a follow-up call after each answered service request",
    ),
    "visit_every": Consumer(
        "workflows/key_account.py",
        "visit_every",
        "key-account visit work orders every period",
        via="key_account_visit",
    ),
    "callback_every": Consumer(
        "rules/process_params.py", "every", "phone call-back period", via="callback"
    ),
    "annual_key_account_meeting": Consumer(
        "rules/scheduled_params.py",
        "period",
        "a yearly key-account meeting invitation task and notice",
        via="key_account_meeting",
    ),
    "contact_record_360": Consumer(
        "rules/scheduled_params.py",
        "period",
        "periodic verification task of the 360-degree contact and supply record",
        via="record_verification",
    ),
    "inspection_every": Consumer(
        "rules/scheduled_params.py",
        "period",
        "special safety inspection task every period",
        via="special_inspection",
    ),
    "electrician_training": Consumer(
        "rules/scheduled_params.py",
        "period",
        "electrician training and drill tasks on a schedule",
        via="electrician_training",
    ),
    "outage_notice_channels": Consumer(
        "rules/outage_params.py",
        "channels",
        "channels of the customer's planned-outage notices",
        via="outage_notice",
    ),
    "outage_notice_lead": Consumer(
        "rules/outage_params.py",
        "lead",
        "how long before the outage the notice goes out",
        via="outage_notice",
    ),
    "outage_pre_negotiation": Consumer(
        "rules/outage_params.py",
        "pre_negotiation_required",
        "a pre-negotiation task before the notices",
        via="outage_notice",
    ),
    "outage_satisfaction_callback": Consumer(
        "rules/outage_params.py",
        "satisfaction_callback_required",
        "a satisfaction call-back task after the outage",
        via="outage_notice",
    ),
    "closure_inspection_required": Consumer(
        "rules/process_params.py",
        "inspection_required",
        "account closure waits for an on-site theft inspection",
        via="closure",
    ),
    "authority_reporting": Consumer(
        "rules/process_params.py",
        "authority_reporting",
        "unresolved serious hazards are reported after the first failed re-inspection",
        via="hazard",
    ),
    "rectification_closed_loop": Consumer(
        "rules/process_params.py",
        "closed_loop",
        "overdue re-inspection tasks escalate to the supervisor",
        via="hazard",
    ),
    "free_extended_services": Consumer(
        "services/points.py",
        "free_extended_services",
        "extended services are redeemed without spending points",
    ),
    "telephone_acceptance": Consumer(
        _OFFERS, "telephone_acceptance", "the task page's customer card offers phone acceptance"
    ),
    "paid_services": Consumer(
        _OFFERS, "paid_services", "the task page's customer card offers paid services"
    ),
    "outage_archive": Consumer(
        _OFFERS,
        "outage_archive",
        "the customer card shows the one-file outage archive (counts, minutes)",
    ),
    "info_push_topics": Consumer(
        _OFFERS, "info_push_topics", "the customer card lists the information topics to push"
    ),
    "channel_guidance": Consumer(
        _OFFERS, "channel_guidance", "the customer card prompts online-channel guidance"
    ),
    "prepayment_recommended": Consumer(
        _OFFERS,
        "prepayment_recommended",
        "the customer card offers a prepayment meter; a new_installation fits one",
    ),
    "early_bill_reminder": Consumer(
        "workflows/arrears_strategy.py",
        "early_reminder",
        "the waits after message reminders shrink to arrears_strategy.early_reminder_wait",
        via="arrears",
    ),
    "onsite_collection": Consumer(
        "workflows/arrears_strategy.py",
        "onsite_collection_early",
        "on-site collection moves up after arrears_strategy.onsite_collection_after",
        via="arrears",
    ),
    "arrears_tracking": Consumer(
        "workflows/arrears_strategy.py",
        "tracking",
        "habitual arrears are recorded (step `strategy`) and the CRM told",
        via="arrears",
    ),
}
