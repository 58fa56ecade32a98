"""The completion payload of each human task kind, as a pydantic model (strict; unknown keys,
NaN and Infinity refused). workflows/task_kinds.py names the kinds and derives from these the
JSON Schema the API publishes and the task page's form is generated from.

An optional field is `X | MISSING`: absent unless given, never null, and left out of the
payload (the workflow receives the completion as sent). A field an outcome makes required
is listed in the model's `WHEN` (outcome -> fields): the check raises `required_for_outcome`
with the fields as data, so the error lands on each field without reading its text.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    MISSING,
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from workflows.json_types import IsoDate, IsoDateTime

REQUIRED_FOR_OUTCOME = "required_for_outcome"

Note = Annotated[str, Field(max_length=2000, description="Free text.")]
Money = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]
Needs = list[Annotated[str, Field(max_length=200)]]


def _finite(value: Any, where: str = "") -> Any:
    # free-form objects hold any JSON; NaN and Infinity fit no store column (PostgreSQL json)
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("finite_number", "NaN and infinite numbers are not allowed")
    if isinstance(value, dict):
        for v in value.values():
            _finite(v)
    elif isinstance(value, list):
        for v in value:
            _finite(v)
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_finite)]


class Completion(BaseModel):
    """Base of every completion payload."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    WHEN: ClassVar[dict[str, tuple[str, ...]]] = {}

    @model_validator(mode="after")
    def _required_for_outcome(self) -> Completion:
        outcome = str(getattr(self, "outcome", ""))  # a kind without outcome requires nothing
        missing = [name for name in self.WHEN.get(outcome, ()) if getattr(self, name) is MISSING]
        if missing:
            raise PydanticCustomError(
                REQUIRED_FOR_OUTCOME,
                "{fields} required when the outcome is {outcome}",
                {"fields": missing, "outcome": outcome},
            )
        return self


class Contacts(BaseModel):
    """Contact details confirmed or corrected during the call."""

    model_config = ConfigDict(extra="forbid", strict=True)
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 \-]{5,20}$")] | MISSING = MISSING
    wechat: Annotated[str, Field(min_length=1, max_length=64)] | MISSING = MISSING
    sms_opt_in: bool | MISSING = MISSING
    electrician: Annotated[str, Field(max_length=100)] | MISSING = MISSING
    payer: Annotated[str, Field(max_length=100)] | MISSING = MISSING
    peak_shift_contact: Annotated[str, Field(max_length=100)] | MISSING = MISSING
    account_manager: Annotated[str, Field(max_length=100)] | MISSING = MISSING

    @model_validator(mode="after")
    def _not_empty(self) -> Contacts:
        if not self.model_fields_set:
            raise PydanticCustomError("too_short", "give at least one contact detail")
        return self


def outcome_only(name: str, *outcomes: str) -> type[Completion]:
    """A kind whose completion is an outcome and an optional note."""
    return create_model(
        name,
        __base__=Completion,
        __doc__="The outcome and an optional note.",
        outcome=(Literal[outcomes], Field(description="What happened.")),  # type: ignore[arg-type]
        note=(Note | MISSING, MISSING),
    )


class CallbackCall(Completion):
    """Quarterly call-back: the contact record verified, updated, or the customer unreachable."""

    WHEN = {"contact_updated": ("contacts",)}
    outcome: Literal["verified", "contact_updated", "unreachable"] = Field(
        description="What happened."
    )
    note: Note | MISSING = MISSING
    contacts: Contacts | MISSING = MISSING


class OnsiteVisit(Completion):
    """On-site visit of a customer unreachable by phone."""

    WHEN = {"contact_updated": ("contacts",)}
    outcome: Literal["visited", "contact_updated", "not_found"] = Field(
        description="What happened."
    )
    note: Note | MISSING = MISSING
    contacts: Contacts | MISSING = MISSING


class Collection(Completion):
    """On-site collection of arrears."""

    outcome: Literal["paid_on_site", "promised", "refused", "not_found"] = Field(
        description="What happened."
    )
    note: Note | MISSING = MISSING
    amount_collected: Money | MISSING = MISSING
    promised_date: IsoDate | MISSING = MISSING


class RegistrationReview(Completion):
    """Review of an expiring life-support / medical registration."""

    WHEN = {"renewed": ("valid_to",)}
    outcome: Literal["renewed", "ended"] = Field(description="What happened.")
    note: Note | MISSING = MISSING
    valid_to: IsoDate | MISSING = Field(MISSING, description="The new last day (renewed).")


class ReinspectionResult(BaseModel):
    """The result for one hazard."""

    model_config = ConfigDict(extra="forbid", strict=True)
    hazard_id: Annotated[str, Field(min_length=1)]
    fixed: bool
    note: Note | MISSING = MISSING


class Reinspection(Completion):
    """Re-inspection: one result per hazard."""

    results: list[ReinspectionResult] = Field(min_length=1)
    note: Note | MISSING = MISSING


class ClosureInspection(Completion):
    """Closure inspection for theft / tampering (evidence and back-billing when found)."""

    WHEN = {
        "theft_found": ("evidence", "back_billing"),
        "tampering": ("evidence", "back_billing"),
    }
    outcome: Literal["no_issue", "theft_found", "tampering"] = Field(description="What happened.")
    note: Note | MISSING = MISSING
    evidence: Annotated[str, Field(min_length=1, max_length=2000)] | MISSING = MISSING
    back_billing: Money | MISSING = MISSING


class TheftCase(Completion):
    """Theft / tampering case settled or referred."""

    outcome: Literal["settled", "referred"] = Field(description="What happened.")
    note: Note | MISSING = MISSING
    amount_paid: Money | MISSING = MISSING


class FinalMeterReading(Completion):
    """The final meter reading (always with the reading)."""

    outcome: Literal["read", "estimated"] = Field(description="What happened.")
    note: Note | MISSING = MISSING
    reading_kwh: Money


class KeyAccountVisit(Completion):
    """A key account's scheduled visit."""

    outcome: Literal["visited", "customer_unavailable", "rescheduled"] = Field(
        description="What happened."
    )
    note: Note | MISSING = MISSING
    findings: Note | MISSING = MISSING
    needs: Needs | MISSING = MISSING


class KeyAccountMeeting(Completion):
    """The answer to the annual key-account meeting invitation."""

    outcome: Literal["attended", "declined", "no_answer"] = Field(description="What happened.")
    note: Note | MISSING = MISSING
    needs: Needs | MISSING = MISSING


class RecordVerification(Completion):
    """The 360-degree contact and supply record verified or corrected."""

    WHEN = {"corrected": ("contacts",)}
    outcome: Literal["verified", "corrected"] = Field(description="What happened.")
    note: Note | MISSING = MISSING
    contacts: Contacts | MISSING = MISSING
    supply: JsonObject | MISSING = MISSING


class SpecialInspection(Completion):
    """Special inspection of the customer's installation."""

    outcome: Literal["no_hazard", "hazards_found", "no_access"] = Field(
        description="What happened."
    )
    note: Note | MISSING = MISSING
    hazards: Count | MISSING = MISSING
    backup_power_compliant: bool | MISSING = MISSING


class ElectricianTraining(Completion):
    """Electrician training and emergency drill."""

    outcome: Literal["trained", "drill_held", "postponed"] = Field(description="What happened.")
    note: Note | MISSING = MISSING
    participants: Count | MISSING = MISSING


class OutagePlanReview(Completion):
    """Objections from pre-negotiation: the outage confirmed or moved (with its new window)."""

    WHEN = {"moved": ("starts_at", "ends_at")}
    outcome: Literal["confirmed", "moved"] = Field(description="What happened.")
    note: Note | MISSING = MISSING
    starts_at: IsoDateTime | MISSING = MISSING
    ends_at: IsoDateTime | MISSING = MISSING
