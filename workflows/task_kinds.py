"""Human task kinds: title and the JSON Schema of each kind's completion payload.

One source for the API (validates before sending the Update, answering 422 with the path)
and for the workflows' Update validators (which refuse anything the schema refuses).
"""

from __future__ import annotations

from typing import Any

_CONTACTS: dict[str, Any] = {
    "type": "object",
    "description": "Contact details confirmed or corrected during the call.",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "phone": {"type": "string", "pattern": r"^\+?[0-9 \-]{5,20}$"},
        "wechat": {"type": "string", "minLength": 1, "maxLength": 64},
        "sms_opt_in": {"type": "boolean"},
        "electrician": {"type": "string", "maxLength": 100},
        "payer": {"type": "string", "maxLength": 100},
        "peak_shift_contact": {"type": "string", "maxLength": 100},
        "account_manager": {"type": "string", "maxLength": 100},
    },
}
_NOTE: dict[str, Any] = {"type": "string", "maxLength": 2000, "description": "Free text."}


def _outcome_schema(outcomes: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["outcome"],
        "properties": {
            "outcome": {"enum": outcomes, "description": "What happened."},
            "note": _NOTE,
            **extra,
        },
    }


TASK_KINDS: dict[str, dict[str, Any]] = {
    "callback_call": {
        "title": "Quarterly call-back: verify the contact record",
        "schema": {
            **_outcome_schema(["verified", "contact_updated", "unreachable"], contacts=_CONTACTS),
            "if": {"properties": {"outcome": {"const": "contact_updated"}}},
            "then": {"required": ["contacts"]},
        },
    },
    "onsite_visit": {
        "title": "On-site visit: customer unreachable by phone",
        "schema": {
            **_outcome_schema(["visited", "contact_updated", "not_found"], contacts=_CONTACTS),
            "if": {"properties": {"outcome": {"const": "contact_updated"}}},
            "then": {"required": ["contacts"]},
        },
    },
}


def schema_for(kind: str) -> dict[str, Any]:
    """The completion schema of `kind` (KeyError for an unknown kind)."""
    return TASK_KINDS[kind]["schema"]  # type: ignore[no-any-return]


# ---- kinds of the event-driven processes (arrears, hazard, closure, key accounts, outages) --
_MONEY: dict[str, Any] = {"type": "number", "minimum": 0}


def _requires(outcomes: list[str], *fields: str) -> dict[str, Any]:
    """`if outcome in outcomes then fields are required` (evidence for theft, ...)."""
    return {
        "if": {"properties": {"outcome": {"enum": outcomes}}, "required": ["outcome"]},
        "then": {"required": list(fields)},
    }


TASK_KINDS.update(
    {
        "collection": {
            "title": "Arrears: on-site collection",
            "schema": _outcome_schema(
                ["paid_on_site", "promised", "refused", "not_found"],
                amount_collected=_MONEY,
                promised_date={"type": "string", "format": "date"},
            ),
        },
        "prepayment_conversion": {
            "title": "Arrears: convert to a prepayment (cost-control) meter",
            "schema": _outcome_schema(["converted", "refused", "not_possible"]),
        },
        "disconnection_approval": {
            "title": "Arrears: approve the disconnection of a protected customer",
            "schema": _outcome_schema(["approved", "rejected"]),
        },
        "notice_delivery": {
            "title": "Arrears: deliver the disconnection notice in person",
            "schema": _outcome_schema(["delivered", "not_delivered"]),
        },
        "disconnection": {
            "title": "Arrears: carry out and confirm the disconnection",
            "schema": _outcome_schema(["disconnected", "not_possible"]),
        },
        "reconnection": {
            "title": "Arrears settled: reconnect the supply",
            "schema": _outcome_schema(["reconnected", "failed"]),
        },
        "registration_review": {
            "title": "Life-support / medical registration expires: review it",
            "schema": {
                **_outcome_schema(
                    ["renewed", "ended"],
                    valid_to={
                        "type": "string",
                        "format": "date",
                        "description": "The new last day (renewed).",
                    },
                ),
                "if": {"properties": {"outcome": {"const": "renewed"}}},
                "then": {"required": ["valid_to"]},
            },
        },
        "life_support_review": {
            "title": "Arrears of a life-support customer: no disconnection, review",
            "schema": _outcome_schema(["acknowledged", "payment_arranged", "referred"]),
        },
        "reinspection": {
            "title": "Hazards: re-inspect and record a result per hazard",
            "schema": {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "additionalProperties": False,
                "required": ["results"],
                "properties": {
                    "results": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["hazard_id", "fixed"],
                            "properties": {
                                "hazard_id": {"type": "string", "minLength": 1},
                                "fixed": {"type": "boolean"},
                                "note": _NOTE,
                            },
                        },
                    },
                    "note": _NOTE,
                },
            },
        },
        "hazard_authority_report": {
            "title": "Hazards unresolved: report to the government authority",
            "schema": _outcome_schema(["filed", "not_required"]),
        },
        "closure_inspection": {
            "title": "Account closure: on-site inspection for theft / tampering",
            "schema": {
                **_outcome_schema(
                    ["no_issue", "theft_found", "tampering"],
                    evidence={"type": "string", "minLength": 1, "maxLength": 2000},
                    back_billing=_MONEY,
                ),
                **_requires(["theft_found", "tampering"], "evidence", "back_billing"),
            },
        },
        "theft_case": {
            "title": "Theft / tampering case: back-billing and settlement",
            "schema": _outcome_schema(["settled", "referred"], amount_paid=_MONEY),
        },
        "final_meter_reading": {
            "title": "Account closure: final meter reading",
            "schema": {
                **_outcome_schema(["read", "estimated"], reading_kwh=_MONEY),
                "required": ["outcome", "reading_kwh"],
            },
        },
        "closure_settlement": {
            "title": "Account closure: settle arrears and deposit",
            "schema": _outcome_schema(["settled", "disputed"]),
        },
        "key_account_visit": {
            "title": "Key account: scheduled visit, record the results",
            "schema": _outcome_schema(
                ["visited", "customer_unavailable", "rescheduled"],
                findings=_NOTE,
                needs={"type": "array", "items": {"type": "string", "maxLength": 200}},
            ),
        },
        "service_request": {
            "title": "Key account: answer the service request within the SLA",
            "schema": _outcome_schema(["resolved", "responded", "referred"]),
        },
        "outage_pre_negotiation": {
            "title": "Planned outage: negotiate with the customer beforehand",
            "schema": _outcome_schema(["agreed", "reschedule_requested", "objection"]),
        },
        "service_follow_up": {
            "title": "Proactive service: follow up an answered request",
            "schema": _outcome_schema(["satisfied", "needs_more", "unreachable"]),
        },
        "key_account_meeting": {
            "title": "Key account: invite to the annual key-account meeting, record the answer",
            "schema": _outcome_schema(
                ["attended", "declined", "no_answer"],
                needs={"type": "array", "items": {"type": "string", "maxLength": 200}},
            ),
        },
        "record_verification": {
            "title": "Key account: verify the 360-degree contact and supply record",
            "schema": {
                **_outcome_schema(
                    ["verified", "corrected"], contacts=_CONTACTS, supply={"type": "object"}
                ),
                **_requires(["corrected"], "contacts"),
            },
        },
        "special_inspection": {
            "title": "Safety: special inspection of the customer's installation",
            "schema": _outcome_schema(
                ["no_hazard", "hazards_found", "no_access"],
                hazards={"type": "integer", "minimum": 0},
                backup_power_compliant={"type": "boolean"},
            ),
        },
        "electrician_training": {
            "title": "Safety: electrician training and emergency drill with the customer",
            "schema": _outcome_schema(
                ["trained", "drill_held", "postponed"],
                participants={"type": "integer", "minimum": 0},
            ),
        },
        "outage_plan_review": {
            "title": "Planned outage: objections from pre-negotiation, confirm or move",
            "schema": {
                **_outcome_schema(
                    ["confirmed", "moved"],
                    starts_at={"type": "string", "format": "date-time"},
                    ends_at={"type": "string", "format": "date-time"},
                ),
                **_requires(["moved"], "starts_at", "ends_at"),
            },
        },
        "outage_satisfaction_callback": {
            "title": "After the outage: satisfaction call-back",
            "schema": _outcome_schema(["satisfied", "neutral", "dissatisfied", "unreachable"]),
        },
    }
)
