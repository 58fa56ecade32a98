"""JSON Schema of the customer record, derived from the rules package's contract.

One source of truth: the field kinds, enums and contact fields of `rules.record`; this module
only renders them for the OpenAPI document (the record is still validated by
`rules.validate_record`, which names the failing path).
"""

from __future__ import annotations

from typing import Any

from rules.record import CONTACT_FIELDS, ENUMS, MAX_INT, RECORD_FIELDS

_KIND: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "bool": {"type": "boolean"},
    "optional_bool": {"type": "boolean", "description": "Absent means unknown."},
    "int": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
    "number": {"type": "number", "minimum": 0},
}


def record_schema() -> dict[str, Any]:
    """The customer record contract as a JSON Schema object."""
    props: dict[str, Any] = {}
    for name, kind in RECORD_FIELDS.items():
        if name == "contacts":
            props[name] = {
                "type": "object",
                "additionalProperties": False,
                "properties": {k: dict(_KIND[v]) for k, v in CONTACT_FIELDS.items()},
            }
        elif name == "attributes":
            props[name] = {
                "type": "object",
                "description": "Custom scalars policies may read as attributes.<name>.",
                "additionalProperties": {"type": ["string", "number", "boolean"]},
            }
        else:
            props[name] = dict(_KIND[kind])
        if name in ENUMS:
            props[name]["enum"] = list(ENUMS[name])
    props["customer_id"] = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
    return {"type": "object", "additionalProperties": False, "properties": props}
