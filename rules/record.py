"""The customer record contract (issue 3): field types, defaults and strict validation.

Records arrive from the CRM, from files and from the API; everything downstream (policies,
the store's columns, the back ends) relies on this one definition. Types are checked, never
coerced: "50" is not 50 and ``True`` is not an integer.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

from rules.errors import RecordError, RecordIssue, did_you_mean

CATEGORIES: Final = ("important", "key_attention", "large", "residential", "other")
TARIFFS: Final = ("residential", "commercial", "industrial", "agricultural", "other")
ABC_CLASSES: Final = ("A", "B", "C")

# Field name -> kind. The store checks its columns against this map.
RECORD_FIELDS: Final[dict[str, str]] = {
    "customer_id": "str",
    "name": "str",
    "category": "str",
    "important_registered": "bool",
    "key_attention": "bool",
    "tariff": "str",
    "voltage_kv": "number",
    "capacity_kva": "number",
    "feeder_id": "str",
    "annual_kwh": "number",
    "annual_revenue": "number",
    "late_payments_12m": "int",
    "overdue_days": "int",
    "outage_count_12m": "int",
    "outage_complaints_12m": "int",
    "online_interactions_12m": "int",
    "offline_interactions_12m": "int",
    "open_hazards": "int",
    "violations_24m": "int",
    "theft_records_24m": "int",
    "points_12m": "int",
    "arrears_amount": "number",
    "outage_minutes_12m": "number",
    "outage_sensitive_flag": "bool",
    "life_support": "bool",
    "prepaid_meter": "bool",
    "backup_power_compliant": "optional_bool",
    "contacts": "object",
    "attributes": "object",
}

# Numbers that default to 0 when absent; the other numbers stay absent (unknown).
DEFAULT_ZERO_NUMBERS: Final = frozenset({"arrears_amount", "outage_minutes_12m"})
ENUMS: Final[dict[str, tuple[str, ...]]] = {"category": CATEGORIES, "tariff": TARIFFS}
CONTACT_FIELDS: Final[dict[str, str]] = {
    "phone": "str",
    "wechat": "str",
    "sms_opt_in": "bool",
    "electrician": "str",
    "payer": "str",
    "peak_shift_contact": "str",
    "account_manager": "str",
}
# Integers fit the store's INTEGER columns (32-bit on PostgreSQL) and stay exact in every
# back end (float64 arrays, JSON numbers).
MAX_INT: Final = 2**31 - 1
# Strings fit their columns (name String(200), feeder_id String(64)); contacts and attributes
# are JSON but bounded alike, so one record cannot carry megabytes.
MAX_TEXT: Final[dict[str, int]] = {"name": 200, "feeder_id": 64}
MAX_TEXT_DEFAULT: Final = 200
MAX_ATTRIBUTES: Final = 100
MAX_ATTRIBUTE_TEXT: Final = 1000
_ID_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def is_int(value: Any) -> bool:
    """True for real integers (bool is excluded: it is an int subclass in Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """True for finite ints and floats, never bool."""
    if isinstance(value, float):
        return math.isfinite(value)
    return is_int(value)


def _check_scalar(path: str, kind: str, value: Any, issues: list[RecordIssue]) -> None:
    if kind == "str":
        if not isinstance(value, str):
            issues.append(RecordIssue(path, f"expected a string, got {_type(value)}"))
        else:
            _check_text(path, value, MAX_TEXT.get(path, MAX_TEXT_DEFAULT), issues)
    elif kind in ("bool", "optional_bool"):
        if not isinstance(value, bool):
            issues.append(RecordIssue(path, f"expected true or false, got {_type(value)}"))
    elif kind == "int":
        if not is_int(value):
            issues.append(RecordIssue(path, f"expected an integer, got {_type(value)}"))
        elif value < 0:
            issues.append(RecordIssue(path, f"must be >= 0, got {value}"))
        elif value > MAX_INT:
            issues.append(RecordIssue(path, f"must be <= {MAX_INT}, got {value}"))
    elif kind == "number":
        if not is_number(value):
            issues.append(RecordIssue(path, f"expected a number, got {_type(value)}"))
        elif value < 0:
            issues.append(RecordIssue(path, f"must be >= 0, got {value}"))


def _check_text(path: str, value: str, limit: int, issues: list[RecordIssue]) -> None:
    """Lengths the store holds; no NUL or lone surrogate (PostgreSQL refuses both)."""
    if len(value) > limit:
        issues.append(RecordIssue(path, f"at most {limit} characters, got {len(value)}"))
    elif "\x00" in value:
        issues.append(RecordIssue(path, "NUL characters are not allowed"))
    elif not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            issues.append(RecordIssue(path, "lone surrogate characters are not allowed"))


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"the non-finite number {value}"
    return {int: "an integer", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def validate_record(obj: Any) -> dict[str, Any]:
    """Check ``obj`` against the contract and return a new record with defaults applied.

    Absent optional strings and numbers stay absent (unknown); ``null`` counts as absent.
    Raises RecordError listing every problem.
    """
    if not isinstance(obj, dict):
        raise RecordError([RecordIssue("", f"expected a JSON object, got {_type(obj)}")])
    issues: list[RecordIssue] = []
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key not in RECORD_FIELDS:
            hint = did_you_mean(str(key), RECORD_FIELDS)
            issues.append(RecordIssue(str(key), f"unknown field{hint}"))
            continue
        if value is None and key != "customer_id":
            continue
        kind = RECORD_FIELDS[key]
        if kind == "object":
            _check_object(key, value, issues, out)
            continue
        before = len(issues)
        _check_scalar(key, kind, value, issues)
        if len(issues) == before and key in ENUMS and value not in ENUMS[key]:
            hint = did_you_mean(value, ENUMS[key])
            allowed = ", ".join(ENUMS[key])
            issues.append(RecordIssue(key, f"{value!r} is not one of {allowed}{hint}"))
        out[key] = value
    cid = obj.get("customer_id")
    if "customer_id" not in obj or cid is None:
        issues.append(RecordIssue("customer_id", "required"))
    elif isinstance(cid, str) and not _ID_RE.match(cid):
        issues.append(RecordIssue("customer_id", "must be 1-64 letters, digits, '_' or '-'"))
    if issues:
        raise RecordError(issues)
    for key, kind in RECORD_FIELDS.items():
        if key in out:
            continue
        if kind == "int":
            out[key] = 0
        elif kind == "bool":
            out[key] = False
        elif kind == "number" and key in DEFAULT_ZERO_NUMBERS:
            out[key] = 0
    return out


def _check_object(key: str, value: Any, issues: list[RecordIssue], out: dict[str, Any]) -> None:
    if not isinstance(value, dict):
        issues.append(RecordIssue(key, f"expected an object, got {_type(value)}"))
        return
    if len(value) > MAX_ATTRIBUTES:
        issues.append(RecordIssue(key, f"at most {MAX_ATTRIBUTES} members, got {len(value)}"))
        return
    for sub, sub_value in value.items():
        path = f"{key}.{sub}"
        before = len(issues)
        _check_text(key, sub, 64, issues)  # a member name, reported at its object
        if len(issues) > before:
            continue
        if key == "contacts":
            if sub not in CONTACT_FIELDS:
                issues.append(
                    RecordIssue(path, f"unknown field{did_you_mean(sub, CONTACT_FIELDS)}")
                )
            elif sub_value is not None:
                _check_scalar(path, CONTACT_FIELDS[sub], sub_value, issues)
        elif sub_value is not None and not (
            isinstance(sub_value, (str, bool)) or is_number(sub_value)
        ):
            issues.append(RecordIssue(path, f"attributes must be scalars, got {_type(sub_value)}"))
        elif isinstance(sub_value, str):
            _check_text(path, sub_value, MAX_ATTRIBUTE_TEXT, issues)
        elif is_int(sub_value) and abs(sub_value) > 2**53:
            issues.append(RecordIssue(path, "integers are limited to +-2**53"))
    out[key] = {k: v for k, v in value.items() if v is not None}
