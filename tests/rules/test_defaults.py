"""The shipped policies encode DOMAIN.md's defaults exactly, at the boundaries, on every
back end (reference, durable-rules, numpy, SQL)."""

from __future__ import annotations

import math
from typing import Any

import pytest

import rules
from tests.rules.backends import all_backends


def _rec(cid: str, **fields: Any) -> dict[str, Any]:
    return rules.validate_record({"customer_id": cid, **fields})


def _segments(
    bundle: rules.Bundle, engine: rules.Engine, recs: list[dict[str, Any]]
) -> dict[str, rules.Assignment]:
    results = all_backends(bundle, engine, recs)
    ref = results["reference"]
    for name, got in results.items():
        assert got == ref, name
    return ref


CATEGORY_CASES = [
    ({"capacity_kva": 314.9}, "other"),
    ({"capacity_kva": 315}, "large"),
    ({"capacity_kva": 315, "tariff": "residential"}, "large"),
    ({"tariff": "residential"}, "residential"),
    ({"tariff": "commercial"}, "other"),
    ({"key_attention": True, "capacity_kva": 400}, "key_attention"),
    ({"important_registered": True, "key_attention": True}, "important"),
    ({"important_registered": True, "category": "residential"}, "residential"),  # CRM wins
    ({}, "other"),
]


def test_category_first_match(bundle: rules.Bundle, engine: rules.Engine) -> None:
    recs = [_rec(f"c{i}", **f) for i, (f, _) in enumerate(CATEGORY_CASES)]
    got = _segments(bundle, engine, recs)
    assert [got[f"c{i}"].category for i in range(len(CATEGORY_CASES))] == [
        c for _, c in CATEGORY_CASES
    ]


TAG_CASES = [
    ({"late_payments_12m": 2}, set()),
    ({"late_payments_12m": 3}, {"arrears_high_risk"}),
    ({"overdue_days": 60}, set()),
    ({"overdue_days": 61}, {"arrears_high_risk"}),
    ({"outage_complaints_12m": 1}, set()),
    ({"outage_complaints_12m": 2}, {"outage_sensitive"}),
    ({"outage_sensitive_flag": True}, {"outage_sensitive"}),
    ({"key_attention": True}, {"outage_sensitive"}),
    ({"important_registered": True}, {"outage_sensitive", "high_value"}),
    # online share exactly 0.5 with 6 online interactions is active
    ({"online_interactions_12m": 6, "offline_interactions_12m": 6}, {"channel_active"}),
    ({"online_interactions_12m": 6, "offline_interactions_12m": 7}, set()),
    ({"online_interactions_12m": 5, "offline_interactions_12m": 0}, set()),
    ({"online_interactions_12m": 0, "offline_interactions_12m": 1}, set()),
    ({"open_hazards": 1}, {"safety_high_risk"}),
    ({"violations_24m": 1}, {"safety_high_risk"}),
    ({"theft_records_24m": 1}, {"safety_high_risk"}),
    ({"category": "important", "backup_power_compliant": False},
     {"safety_high_risk", "outage_sensitive", "high_value"}),
    ({"category": "important", "backup_power_compliant": True}, {"outage_sensitive", "high_value"}),
    ({"category": "important"}, {"outage_sensitive", "high_value"}),  # unknown is not false
    ({"category": "large", "backup_power_compliant": False}, set()),
]  # fmt: skip


def test_tags_at_the_boundaries(bundle: rules.Bundle, engine: rules.Engine) -> None:
    # one online interaction everywhere except where the case says, so channel_silent is off
    recs = [
        _rec(f"t{i}", **{"offline_interactions_12m": 1, **f}) for i, (f, _) in enumerate(TAG_CASES)
    ]
    got = _segments(bundle, engine, recs)
    for i, (_, expected) in enumerate(TAG_CASES):
        assert set(got[f"t{i}"].tags) - {"high_value"} == expected - {"high_value"}, TAG_CASES[i]
        if "high_value" in expected:
            assert "high_value" in got[f"t{i}"].tags


def test_channel_silent(bundle: rules.Bundle, engine: rules.Engine) -> None:
    got = _segments(bundle, engine, [_rec("s0"), _rec("s1", offline_interactions_12m=1)])
    assert "channel_silent" in got["s0"].tags and "channel_silent" not in got["s1"].tags


@pytest.mark.parametrize(
    ("points", "tier"),
    [(0, "standard"), (999, "standard"), (1000, "silver"), (4999, "silver"), (5000, "gold"),
     (19999, "gold"), (20000, "platinum")],
)  # fmt: skip
def test_points_tiers(bundle: rules.Bundle, engine: rules.Engine, points: int, tier: str) -> None:
    got = _segments(bundle, engine, [_rec("p", points_12m=points)])
    assert got["p"].points_tier == tier


@pytest.mark.parametrize("n", [1, 19, 20, 21, 100])
def test_abc_ceil_boundaries(bundle: rules.Bundle, engine: rules.Engine, n: int) -> None:
    recs = [_rec(f"c{i:03d}", annual_revenue=float(1000 - i)) for i in range(n)]
    got = _segments(bundle, engine, recs)
    classes = [got[f"c{i:03d}"].abc_class for i in range(n)]
    a, b = math.ceil(0.05 * n - 1e-9), math.ceil(0.20 * n - 1e-9)
    assert classes == ["A"] * a + ["B"] * (b - a) + ["C"] * (n - b)
    expected = {1: (1, 0), 19: (1, 3), 20: (1, 3), 21: (2, 3), 100: (5, 15)}[n]
    assert (classes.count("A"), classes.count("B")) == expected


def test_abc_ties_break_by_customer_id(bundle: rules.Bundle, engine: rules.Engine) -> None:
    # 20 customers, equal revenue: A = first id, B = next 3 ids; unknown revenue ranks last
    recs = [_rec(f"id{i:02d}", annual_revenue=5.0) for i in reversed(range(19))]
    recs.append(_rec("aaa"))  # absent metric: last despite the smallest id
    got = _segments(bundle, engine, recs)
    assert got["id00"].abc_class == "A"
    assert [got[f"id{i:02d}"].abc_class for i in (1, 2, 3)] == ["B"] * 3
    assert got["id04"].abc_class == "C" and got["aaa"].abc_class == "C"


def test_abc_class_for_rank(bundle: rules.Bundle) -> None:
    assert [rules.abc_class_for_rank(bundle, r, 21) for r in range(5)] == list("AABBB")
    assert rules.abc_class_for_rank(bundle, 0, 1) == "A"
    with pytest.raises(ValueError, match="outside"):
        rules.abc_class_for_rank(bundle, 3, 3)


def test_strategies_and_processes(bundle: rules.Bundle, engine: rules.Engine) -> None:
    b_class = engine.assign(_rec("b1", offline_interactions_12m=1), "B")
    assert b_class.processes["callback"] == {"every": "P3M"}
    assert b_class.actions["service_channel"] == "proactive_agent"
    large = engine.assign(_rec("l1", capacity_kva=400, offline_interactions_12m=1), "B")
    assert large.actions["response_sla_hours"] == 24 and large.actions["account_manager"]
    assert large.actions["visit_every"] == "P1M"  # min(P1M key account, P6M class B)
    assert large.actions["service_channel"] == "account_manager"  # first by priority
    assert large.processes["key_account_visit"] == {"visit_every": "P1M"}
    assert large.processes["service_request"] == {"response_sla_hours": 24}
    risky = engine.assign(_rec("r1", open_hazards=2, outage_complaints_12m=3), "C")
    assert risky.processes["closure"] == {"inspection_required": True}
    assert risky.processes["hazard"] == {"authority_reporting": True, "closed_loop": True}
    assert risky.processes["special_inspection"] == {"period": "P3M"}
    assert risky.processes["electrician_training"] == {}
    assert "record_verification" not in risky.processes
    assert large.processes["record_verification"] == {}
    assert large.processes["key_account_meeting"] == {}
    assert risky.processes["outage_notice"]["channels"] == [
        "announcement", "call_95598", "sms", "wechat",
    ]  # fmt: skip
    assert "callback" not in risky.processes
    plain = engine.assign(_rec("p1", offline_interactions_12m=1), "C")
    assert plain.processes["closure"] == {"inspection_required": False}
    assert plain.actions["prepayment_recommended"] is True
    assert plain.tags == () and plain.policy_version == bundle.version
    assert plain.to_json()["tags"] == []
