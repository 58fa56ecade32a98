"""Explanations (rule id, condition as written, actual values, version) and points accrual
through durable-rules event rules."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rules
from rules import reference
from rules.points import reference_award
from tests.rules.conftest import POLICIES


def test_explanation_names_rules_conditions_values_version(bundle: rules.Bundle) -> None:
    rec = rules.validate_record(
        {"customer_id": "e1", "capacity_kva": 315, "overdue_days": 61, "annual_revenue": 9.0}
    )
    exp = rules.explain(bundle, rec, "B", rank=1, n=20)
    assert exp["policy_version"] == bundle.version
    cat = exp["category"]
    assert (cat["value"], cat["rule"], cat["values"]) == ("large", "large_capacity",
                                                          {"capacity_kva": 315})  # fmt: skip
    assert cat["condition"] == {"field": "capacity_kva", "op": "gte", "value": 315}
    assert cat["source"].endswith("segments.yaml:27: category.rules[2].when")
    assert exp["abc_class"]["value"] == "B" and exp["abc_class"]["expected"] == "B"
    assert exp["abc_class"]["values"] == {"annual_revenue": 9.0}
    arrears = exp["tags"]["arrears_high_risk"]
    assert arrears["value"] is True and arrears["rule"] == "arrears_high_risk"
    assert arrears["values"] == {"late_payments_12m": 0, "overdue_days": 61}
    assert arrears["condition"]["any"][1] == {"field": "overdue_days", "op": "gt", "value": 60}
    silent = exp["tags"]["channel_silent"]
    assert silent["value"] is True and silent["values"] == {"interactions_12m": 0}
    assert silent["derived"] == {
        "interactions_12m": {
            "formula": {"sum": ["online_interactions_12m", "offline_interactions_12m"]},
            "value": 0,
            "operands": {"online_interactions_12m": 0, "offline_interactions_12m": 0},
        }
    }
    active = exp["tags"]["channel_active"]
    assert active["values"] == {"online_interactions_12m": 0, "online_share_12m": None}
    assert set(active["derived"]) == {"online_share_12m", "interactions_12m"}
    assert exp["points_tier"]["value"] == "standard" and exp["points_tier"]["rule"] == "default"
    sla = exp["actions"]["response_sla_hours"]
    assert sla["value"] == 24 and sla["combine"] == "min"
    assert sla["rules"] == ["strategies.key_account_large"]
    assert exp["actions"]["visit_every"]["from"][1] == {
        "rule": "strategies.proactive_b",
        "applies_to": {"abc_class": ["B"]},
        "value": "P6M",
        "source": f"{POLICIES}/strategies.yaml:158: strategies[3]",
    }
    assert exp["actions"]["closure_inspection_required"]["rules"] == ["parameters.default"]
    assert exp["actions"]["visit_every"]["rules"] == [
        "strategies.key_account_large", "strategies.proactive_b",
    ]  # fmt: skip
    assert all(v["policy_version"] == bundle.version for v in exp["actions"].values())


def test_explanation_of_a_crm_category(bundle: rules.Bundle) -> None:
    rec = rules.validate_record({"customer_id": "e2", "category": "important"})
    exp = rules.explain(bundle, rec, "C")
    assert exp["category"]["rule"] == "record.category"
    assert exp["category"]["values"] == {"category": "important"}
    assert exp["tags"]["high_value"]["values"] == {"abc_class": "C", "category": "important"}
    assert exp["tags"]["safety_high_risk"]["values"]["backup_power_compliant"] is None


@pytest.mark.parametrize(
    ("event", "points", "rule"),
    [
        ({"amount": 1000, "channel": "online"}, 3000, "payment.topup_1000.online"),
        ({"amount": 999.99, "channel": "online"}, 2399, "payment.topup_500.online"),
        ({"amount": 333, "channel": "bank_auto_debit"}, 499, "payment.topup_200.bank_auto_debit"),
        ({"amount": 200, "channel": "counter"}, 200, "payment.topup_200.counter"),
        ({"amount": 199, "channel": "counter"}, 99, "payment.topup_small.counter"),
        ({"amount": 0, "channel": "online"}, 0, "payment.topup_small.online"),
    ],
)
def test_payment_points(
    bundle: rules.Bundle, engine: rules.Engine, event: dict[str, Any], points: int, rule: str
) -> None:
    award = engine.accrue_points({"type": "payment", "customer_id": "c1", **event})
    assert (award.points, award.rule_id, award.policy_version) == (points, rule, bundle.version)
    assert award.to_json()["detail"]["channel"] == event["channel"]


def test_feedback_and_survey_points(engine: rules.Engine) -> None:
    assert engine.accrue_points({"type": "feedback", "customer_id": "c1"}).points == 20
    award = engine.accrue_points({"type": "survey", "customer_id": "c1", "at": "2026-01-01"})
    assert (award.points, award.rule_id, award.event_type) == (50, "survey", "survey")


def test_bad_events_are_rejected(engine: rules.Engine) -> None:
    with pytest.raises(rules.RecordError) as info:
        engine.accrue_points(
            {"type": "payment", "customer_id": "c1", "amount": "50", "channel": "onlin", "x": 1}
        )
    assert [str(i) for i in info.value.issues] == [
        "amount: expected a number >= 0, got '50'",
        "channel: 'onlin' is not one of online, bank_auto_debit, counter (did you mean 'online'?)",
        "x: unknown field",
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(st.sampled_from([0, 199, 199.99, 200, 499.5, 500, 999, 1000]),
              st.floats(0, 1e6, allow_nan=False)),
    st.sampled_from(["online", "bank_auto_debit", "counter"]),
)  # fmt: skip
def test_event_rules_match_reference(
    bundle: rules.Bundle, engine: rules.Engine, amount: float, channel: str
) -> None:
    event = {"type": "payment", "customer_id": "c9", "amount": amount, "channel": channel}
    assert engine.accrue_points(event) == reference_award(bundle, event)


def test_engine_is_thread_safe(bundle: rules.Bundle, engine: rules.Engine) -> None:
    recs = [
        rules.validate_record({"customer_id": f"t{i}", "overdue_days": i, "open_hazards": i % 2,
                               "capacity_kva": 300 + i % 30, "points_12m": i * 100})
        for i in range(120)
    ]  # fmt: skip
    expected = {r["customer_id"]: reference.assign(bundle, r, "ABC"[i % 3])
                for i, r in enumerate(recs)}  # fmt: skip

    def work(chunk: int) -> list[rules.Assignment]:
        return [engine.assign(r, "ABC"[i % 3]) for i, r in enumerate(recs) if i % 8 == chunk]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [a for batch in pool.map(work, range(8)) for a in batch]
    assert len(results) == len(recs)
    assert all(a == expected[a.customer_id] for a in results)
