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
            **_outcome_schema(
                ["verified", "contact_updated", "unreachable"], contacts=_CONTACTS
            ),
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
