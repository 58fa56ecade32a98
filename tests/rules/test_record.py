"""The customer record contract: types are checked (never coerced), defaults applied."""

from __future__ import annotations

from typing import Any

import pytest

import rules
from rules.record import RECORD_FIELDS


def _issues(obj: Any) -> list[tuple[str, str]]:
    with pytest.raises(rules.RecordError) as info:
        rules.validate_record(obj)
    return [(i.path, i.message) for i in info.value.issues]


def test_defaults() -> None:
    rec = rules.validate_record({"customer_id": "c-1_A"})
    for name, kind in RECORD_FIELDS.items():
        if kind == "int":
            assert rec[name] == 0 and type(rec[name]) is int
        elif kind == "bool":
            assert rec[name] is False
    assert rec["arrears_amount"] == 0 and rec["outage_minutes_12m"] == 0
    assert "backup_power_compliant" not in rec  # unknown stays unknown
    assert "annual_revenue" not in rec and "capacity_kva" not in rec
    assert (
        rules.validate_record({"customer_id": "x", "backup_power_compliant": False})[
            "backup_power_compliant"
        ]
        is False
    )


def test_wrong_types_are_rejected_with_paths() -> None:
    assert _issues(
        {
            "customer_id": "c1",
            "overdue_days": "50",
            "late_payments_12m": True,
            "capacity_kva": "315",
            "life_support": 1,
            "tariff": "residental",
            "points_12m": -1,
            "annual_revenue": 1.5,
            "contacts": {"phone": 12345, "sms_opt_in": "yes", "fax": "1"},
            "attributes": {"ok": 1, "bad": [1, 2]},
        }
    ) == [
        ("attributes.bad", "attributes must be scalars, got a list"),
        ("capacity_kva", "expected a number, got the string '315'"),
        ("contacts.fax", "unknown field"),
        ("contacts.phone", "expected a string, got an integer"),
        ("contacts.sms_opt_in", "expected true or false, got the string 'yes'"),
        ("late_payments_12m", "expected an integer, got a boolean"),
        ("life_support", "expected true or false, got an integer"),
        ("overdue_days", "expected an integer, got the string '50'"),
        ("points_12m", "must be >= 0, got -1"),
        (
            "tariff",
            "'residental' is not one of residential, commercial, industrial, agricultural, "
            "other (did you mean 'residential'?)",
        ),
    ]


def test_unknown_keys_and_missing_id() -> None:
    assert _issues({"overdue_day": 3}) == [
        ("customer_id", "required"),
        ("overdue_day", "unknown field (did you mean 'overdue_days'?)"),
    ]
    assert _issues({"customer_id": "has space"}) == [
        ("customer_id", "must be 1-64 letters, digits, '_' or '-'")
    ]
    assert _issues({"customer_id": "x" * 65}) == [
        ("customer_id", "must be 1-64 letters, digits, '_' or '-'")
    ]
    assert _issues([1]) == [("", "expected a JSON object, got a list")]


def test_floats_allowed_for_numbers_not_for_ints() -> None:
    assert (
        rules.validate_record({"customer_id": "x", "capacity_kva": 314.9})["capacity_kva"] == 314.9
    )
    assert _issues({"customer_id": "x", "overdue_days": 60.0}) == [
        ("overdue_days", "expected an integer, got a number")
    ]
    assert _issues({"customer_id": "x", "annual_kwh": float("nan")}) == [
        ("annual_kwh", "expected a number, got the non-finite number nan")
    ]


def test_integers_stay_exact_everywhere() -> None:
    assert (
        rules.validate_record({"customer_id": "x", "points_12m": 2**31 - 1})["points_12m"]
        == 2**31 - 1
    )
    assert _issues({"customer_id": "x", "points_12m": 2**31}) == [
        ("points_12m", f"must be <= {2**31 - 1}, got {2**31}")
    ]


def test_null_means_absent() -> None:
    rec = rules.validate_record({"customer_id": "x", "capacity_kva": None, "overdue_days": None})
    assert "capacity_kva" not in rec and rec["overdue_days"] == 0


def test_record_fields_kinds() -> None:
    assert set(RECORD_FIELDS.values()) <= {
        "str",
        "int",
        "number",
        "bool",
        "optional_bool",
        "object",
    }
    assert RECORD_FIELDS["backup_power_compliant"] == "optional_bool"
    assert RECORD_FIELDS["contacts"] == RECORD_FIELDS["attributes"] == "object"
