"""Conformance: on random populations (boundary values, ties, absent fields) every back end
gives exactly the reference evaluator's assignment, customer by customer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rules
from rules.loader import FILES
from tests.rules.backends import all_backends
from tests.rules.conftest import POLICIES

# quotes, a backslash and non-ASCII text must survive every back end's encoding
SPECIAL = 'q"\\中'
INTS = [0, 1, 2, 3, 5, 6, 7, 59, 60, 61, 999, 1000, 4999, 5000, 19999, 20000, 2**31 - 1]
# 1e-05, 1e16 and 5e-324 are written by json.dumps in forms durable-rules cannot parse
NUMBERS = [0, 0.5, 10, 314.9, 315, 315.0001, 1000, 1e6, 1e-05, 1e16, 5e-324, 1.5e300]
INT_FIELDS = [
    "late_payments_12m", "overdue_days", "outage_count_12m", "outage_complaints_12m",
    "online_interactions_12m", "offline_interactions_12m", "open_hazards", "violations_24m",
    "theft_records_24m", "points_12m",
]  # fmt: skip
BOOL_FIELDS = ["important_registered", "key_attention", "outage_sensitive_flag", "life_support"]


def _maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), values)


@st.composite
def record(draw: st.DrawFn, cid: str) -> dict[str, Any]:
    raw: dict[str, Any] = {"customer_id": cid}
    for name in INT_FIELDS:
        raw[name] = draw(_maybe(st.sampled_from(INTS)))
    for name in ("capacity_kva", "annual_revenue", "arrears_amount"):
        raw[name] = draw(_maybe(st.sampled_from(NUMBERS)))  # few values: many ABC ties
    for name in BOOL_FIELDS:
        raw[name] = draw(_maybe(st.booleans()))
    raw["backup_power_compliant"] = draw(_maybe(st.booleans()))
    raw["tariff"] = draw(_maybe(st.sampled_from(["residential", "commercial", "industrial"])))
    raw["category"] = draw(
        st.one_of(st.none(), st.none(), st.sampled_from(["important", "large", "other"]))
    )
    raw["contacts"] = draw(_maybe(st.fixed_dictionaries({}, optional={
        "sms_opt_in": st.booleans(), "phone": st.sampled_from(["1", "2"])})))  # fmt: skip
    raw["attributes"] = draw(_maybe(st.fixed_dictionaries({}, optional={
        # values of the wrong type ("5", true, 3) count as unknown in every back end
        "score": st.sampled_from([0, 5, 5.5, 9, "5", True]),
        "segment_hint": st.sampled_from(["x", "y", SPECIAL, 3])})))  # fmt: skip
    return rules.validate_record({k: v for k, v in raw.items() if v is not None})


@st.composite
def population(draw: st.DrawFn) -> list[dict[str, Any]]:
    ids = draw(
        st.lists(st.text(alphabet="abAB01_-", min_size=1, max_size=4), max_size=45, unique=True)
    )
    return [draw(record(cid)) for cid in ids]


# A variant that exercises every operator, derived function, attributes, contacts and an
# ABC partition per category.
EXTRA_DERIVED = """
  margin:
    difference: [annual_revenue, arrears_amount]
  low_of_two:
    min: [capacity_kva, annual_revenue]
  high_of_two:
    max: [capacity_kva, 100]
  scaled:
    product: [points_12m, 0.5, outage_count_12m]
"""
EXTRA_TAGS = """
  op_not_in:
    when: {not: {field: tariff, op: in, value: [residential, commercial]}}
  op_missing:
    when: {all: [{field: capacity_kva, op: missing}, {field: points_12m, op: lt, value: 1000}]}
  op_exists:
    when: {field: backup_power_compliant, op: exists}
  op_ne:
    when: {field: attributes.segment_hint, op: ne, value: x}
  op_attr:
    when: {field: attributes.score, op: lte, value: 5}
  op_contact:
    when: {field: contacts.sms_opt_in, op: eq, value: true}
  op_contact_not:
    when: {not: {field: contacts.phone, op: eq, value: "1"}}
  op_derived:
    when:
      any:
        - {field: margin, op: gt, value: 10}
        - {field: low_of_two, op: gte, value: 315}
        - {field: high_of_two, op: lt, value: 315}
        - {field: scaled, op: gte, value: 30000}
  op_not_all:
    when:
      not:
        all:
          - {field: abc_class, op: ne, value: C}
          - {field: category, op: not_in, value: [other]}
  op_bool_ne:
    when: {field: backup_power_compliant, op: ne, value: true}
  op_special_string:
    when: {field: attributes.segment_hint, op: in, value: [SPECIAL_YAML, "y"]}
""".replace("SPECIAL_YAML", json.dumps(SPECIAL, ensure_ascii=False))


def _variant_texts() -> dict[str, str]:
    texts = {name: (POLICIES / name).read_text() for name in FILES}
    seg = texts["segments.yaml"]
    seg = seg.replace("attributes: {}", "attributes:\n  score: {type: number}\n"
                      "  segment_hint: {type: string}")  # fmt: skip
    seg = seg.replace("\nderived:\n", "\nderived:" + EXTRA_DERIVED)
    seg = seg.replace("\ntags:\n", "\ntags:" + EXTRA_TAGS)
    seg = seg.replace("partition_by: null", "partition_by: category")
    texts["segments.yaml"] = seg
    return texts


@pytest.fixture(scope="module")
def variant() -> tuple[rules.Bundle, rules.Engine]:
    bundle = rules.load_bundle_from_texts(_variant_texts())
    return bundle, rules.Engine(bundle)


def _check(bundle: rules.Bundle, engine: rules.Engine, recs: list[dict[str, Any]]) -> None:
    results = all_backends(bundle, engine, recs)
    ref = results["reference"]
    assert set(ref) == {r["customer_id"] for r in recs}
    for name, got in results.items():
        for cid, expected in ref.items():
            assert got[cid] == expected, (name, cid)


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(population())
def test_shipped_policies_all_backends_agree(
    bundle: rules.Bundle, engine: rules.Engine, recs: list[dict[str, Any]]
) -> None:
    _check(bundle, engine, recs)


@FAST
@given(population())
def test_every_operator_all_backends_agree(
    variant: tuple[rules.Bundle, rules.Engine], recs: list[dict[str, Any]]
) -> None:
    _check(*variant, recs)


def test_variant_tags_fire(variant: tuple[rules.Bundle, rules.Engine]) -> None:
    bundle, _ = variant
    rec = rules.validate_record({
        "customer_id": "v1", "tariff": "industrial", "points_12m": 10,
        "backup_power_compliant": False,
        "attributes": {"segment_hint": "y", "score": 5}, "contacts": {"sms_opt_in": True},
        "annual_revenue": 100.0, "arrears_amount": 1,
    })  # fmt: skip
    got = set(rules.segment_population(bundle, [rec])[0].tags)
    assert {"op_not_in", "op_missing", "op_exists", "op_ne", "op_attr", "op_contact",
            "op_contact_not", "op_derived", "op_bool_ne"} <= got  # fmt: skip
