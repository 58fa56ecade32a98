"""Points accrual (paper 003): event validation, durable event rules, the award.

The rules are mutually exclusive and cover every valid event (one per amount tier and
channel, one per other event type) because a durable_rules event fires only one rule.
Points are computed with decimals so 333 x 1.5 is exactly 499.5 before flooring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rules.errors import RecordError, RecordIssue, did_you_mean
from rules.model import Bundle, PointsRules
from rules.record import is_number

_EVENT_KEYS = ("type", "customer_id", "amount", "channel", "event_id", "at")


@dataclass(frozen=True)
class PointsAward:
    """Points earned by one event, with the rule that decided it."""

    customer_id: str
    event_type: str
    points: int
    rule_id: str
    policy_version: str
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "event_type": self.event_type,
            "points": self.points,
            "rule_id": self.rule_id,
            "policy_version": self.policy_version,
            "detail": dict(self.detail),
        }


def validate_event(event: Any, rules: PointsRules) -> dict[str, Any]:
    """A payment needs amount (number >= 0) and a known channel; others only the type."""
    if not isinstance(event, dict):
        raise RecordError([RecordIssue("", "expected a JSON object")])
    issues = [
        RecordIssue(str(k), f"unknown field{did_you_mean(str(k), _EVENT_KEYS)}")
        for k in event
        if k not in _EVENT_KEYS
    ]
    kinds = ("payment", *rules.event_points)
    etype = event.get("type")
    if etype not in kinds:
        issues.append(
            RecordIssue(
                "type",
                f"{etype!r} is not one of {', '.join(kinds)}{did_you_mean(str(etype), kinds)}",
            )
        )
    if not isinstance(event.get("customer_id"), str):
        issues.append(RecordIssue("customer_id", "required string"))
    if etype == "payment":
        amount = event.get("amount")
        if not is_number(amount) or amount is None or amount < 0:
            issues.append(RecordIssue("amount", f"expected a number >= 0, got {amount!r}"))
        channel = event.get("channel")
        if channel not in rules.channels:
            issues.append(
                RecordIssue(
                    "channel",
                    f"{channel!r} is not one of "
                    f"{', '.join(rules.channels)}"
                    f"{did_you_mean(str(channel), rules.channels)}",
                )
            )
    if issues:
        raise RecordError(issues)
    return {k: event[k] for k in ("type", "customer_id", "amount", "channel") if k in event}


def points_rules(rules: PointsRules) -> list[tuple[str, dict[str, Any]]]:
    """(rule id, durable expression) pairs; exactly one matches any valid event."""
    out: list[tuple[str, dict[str, Any]]] = []
    upper: float | None = None
    for tier in rules.prepayment_tiers:  # min_amount descending
        for channel in rules.channels:
            parts: list[dict[str, Any]] = [
                {"type": "payment"},
                {"channel": channel},
                {"$gte": {"amount": tier.min_amount}},
            ]
            if upper is not None:
                parts.append({"$lt": {"amount": upper}})
            out.append((f"payment.{tier.id}.{channel}", {"$and": parts}))
        upper = tier.min_amount
    for etype in rules.event_points:
        out.append((f"{etype}", {"type": etype}))
    return out


def award_for(bundle: Bundle, event: dict[str, Any], rule_id: str) -> PointsAward:
    """The award of the rule that fired."""
    rules = bundle.points
    etype = event["type"]
    if etype != "payment":
        return PointsAward(
            event["customer_id"], etype, rules.event_points[etype], rule_id, bundle.version, {}
        )
    _, tier_id, channel = rule_id.split(".")
    tier = next(t for t in rules.prepayment_tiers if t.id == tier_id)
    mult = rules.channels[channel]
    exact = Decimal(str(event["amount"])) * Decimal(str(tier.points_per_yuan)) * Decimal(str(mult))
    return PointsAward(
        event["customer_id"],
        etype,
        math.floor(exact),
        rule_id,
        bundle.version,
        {
            "amount": event["amount"],
            "tier": tier_id,
            "points_per_yuan": tier.points_per_yuan,
            "channel": channel,
            "multiplier": mult,
        },
    )


def reference_award(bundle: Bundle, event: Any) -> PointsAward:
    """The same decision in plain Python (oracle for tests)."""
    ev = validate_event(event, bundle.points)
    if ev["type"] != "payment":
        return award_for(bundle, ev, ev["type"])
    tier = next(t for t in bundle.points.prepayment_tiers if ev["amount"] >= t.min_amount)
    return award_for(bundle, ev, f"payment.{tier.id}.{ev['channel']}")
