"""Human task kinds: title and completion model of each kind (models in
workflows/task_models.py), and the one check of a completion payload.

One source for the API (services/tasks.py validates before sending the Update, answering 422
with each issue's path), for the workflows' Update validators (which refuse anything the
model refuses) and for the task page's form, generated from the JSON Schema derived here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from pydantic import ValidationError

from workflows import task_models as m
from workflows.task_models import REQUIRED_FOR_OUTCOME, Completion, outcome_only


class TaskKind(TypedDict):
    """A kind's title, completion model and the JSON Schema derived from the model."""

    title: str
    model: type[Completion]
    schema: dict[str, Any]


@dataclass(frozen=True)
class CompletionIssue:
    """One refused part of a completion: `path` is the JSON pointer of the value without the
    leading slash (`contacts/phone`, `results/0/fixed`; "" for the payload as a whole), `code`
    pydantic's error type (`missing`, `extra_forbidden`, `finite_number`, ...)."""

    path: str
    message: str
    code: str


_KINDS: dict[str, tuple[str, type[Completion]]] = {
    "callback_call": ("Quarterly call-back: verify the contact record", m.CallbackCall),
    "onsite_visit": ("On-site visit: customer unreachable by phone", m.OnsiteVisit),
    # ---- the event-driven processes (arrears, hazard, closure, key accounts, outages) ----
    "collection": ("Arrears: on-site collection", m.Collection),
    "prepayment_conversion": (
        "Arrears: convert to a prepayment (cost-control) meter",
        outcome_only("PrepaymentConversion", "converted", "refused", "not_possible"),
    ),
    "disconnection_approval": (
        "Arrears: approve the disconnection of a protected customer",
        outcome_only("DisconnectionApproval", "approved", "rejected"),
    ),
    "notice_delivery": (
        "Arrears: deliver the disconnection notice in person",
        outcome_only("NoticeDelivery", "delivered", "not_delivered"),
    ),
    "disconnection": (
        "Arrears: carry out and confirm the disconnection",
        outcome_only("Disconnection", "disconnected", "not_possible"),
    ),
    "reconnection": (
        "Arrears settled: reconnect the supply",
        outcome_only("Reconnection", "reconnected", "failed"),
    ),
    "registration_review": (
        "Life-support / medical registration expires: review it",
        m.RegistrationReview,
    ),
    "life_support_review": (
        "Arrears of a life-support customer: no disconnection, review",
        outcome_only("LifeSupportReview", "acknowledged", "payment_arranged", "referred"),
    ),
    "reinspection": ("Hazards: re-inspect and record a result per hazard", m.Reinspection),
    "hazard_authority_report": (
        "Hazards unresolved: report to the government authority",
        outcome_only("HazardAuthorityReport", "filed", "not_required"),
    ),
    "closure_inspection": (
        "Account closure: on-site inspection for theft / tampering",
        m.ClosureInspection,
    ),
    "theft_case": ("Theft / tampering case: back-billing and settlement", m.TheftCase),
    "final_meter_reading": ("Account closure: final meter reading", m.FinalMeterReading),
    "closure_settlement": (
        "Account closure: settle arrears and deposit",
        outcome_only("ClosureSettlement", "settled", "disputed"),
    ),
    "key_account_visit": ("Key account: scheduled visit, record the results", m.KeyAccountVisit),
    "service_request": (
        "Key account: answer the service request within the SLA",
        outcome_only("ServiceRequestAnswer", "resolved", "responded", "referred"),
    ),
    "outage_pre_negotiation": (
        "Planned outage: negotiate with the customer beforehand",
        outcome_only("OutagePreNegotiation", "agreed", "reschedule_requested", "objection"),
    ),
    "service_follow_up": (
        "Proactive service: follow up an answered request",
        outcome_only("ServiceFollowUp", "satisfied", "needs_more", "unreachable"),
    ),
    "key_account_meeting": (
        "Key account: invite to the annual key-account meeting, record the answer",
        m.KeyAccountMeeting,
    ),
    "record_verification": (
        "Key account: verify the 360-degree contact and supply record",
        m.RecordVerification,
    ),
    "special_inspection": (
        "Safety: special inspection of the customer's installation",
        m.SpecialInspection,
    ),
    "electrician_training": (
        "Safety: electrician training and emergency drill with the customer",
        m.ElectricianTraining,
    ),
    "outage_plan_review": (
        "Planned outage: objections from pre-negotiation, confirm or move",
        m.OutagePlanReview,
    ),
    "outage_satisfaction_callback": (
        "After the outage: satisfaction call-back",
        outcome_only(
            "OutageSatisfactionCallback", "satisfied", "neutral", "dissatisfied", "unreachable"
        ),
    ),
}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with every `$ref` replaced by its definition and pydantic's titles dropped:
    the plain, self-contained form the form generator and API clients read."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(defs[node["$ref"].rsplit("/", 1)[1]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k not in ("title", "$defs")}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def json_schema(model: type[Completion]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a completion model, with the outcome-dependent
    requirements as `if`/`then` (documentation; the model enforces them)."""
    raw = model.model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              **_inline(raw, raw.get("$defs", {}))}  # fmt: skip
    rules = [
        {"if": {"properties": {"outcome": {"const": outcome}}, "required": ["outcome"]},
         "then": {"required": list(fields)}}
        for outcome, fields in model.WHEN.items()
    ]  # fmt: skip
    if rules:
        schema["allOf"] = rules
    return schema


TASK_KINDS: dict[str, TaskKind] = {
    kind: TaskKind(title=title, model=model, schema=json_schema(model))
    for kind, (title, model) in _KINDS.items()
}


def schema_for(kind: str) -> dict[str, Any]:
    """The completion schema of `kind` (KeyError for an unknown kind)."""
    return TASK_KINDS[kind]["schema"]


def completion_errors(kind: str, result: object) -> list[CompletionIssue]:
    """What is wrong with a completion payload of `kind` (empty: valid), as data."""
    try:
        TASK_KINDS[kind]["model"].model_validate(result)
    except ValidationError as err:
        return [issue for e in err.errors() for issue in _issues(e)]
    return []


def _issues(error: Any) -> list[CompletionIssue]:
    path = "/".join(str(p) for p in error["loc"])
    if error["type"] == REQUIRED_FOR_OUTCOME:
        # one issue per field the outcome requires, each at its field
        outcome = error["ctx"]["outcome"]
        return [
            CompletionIssue(f"{path}/{name}".lstrip("/"),
                            f"required when the outcome is {outcome}", "missing")
            for name in error["ctx"]["fields"]
        ]  # fmt: skip
    return [CompletionIssue(path, error["msg"], error["type"])]
