"""Pure rules of the arrears ladder: step eligibility and the floor enforced at run time.

The loader already rejects a bundle weaker than its jurisdiction's floor; `enforce_floor`
applies the floor once more to the plan the workflow runs (a strategy override, an old
policy version or a pack tightened since could otherwise slip through). It only ever
tightens, and says what it changed so the ladder records it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from workflows.arrears_payloads import ArrearsPlan


def eligible(rule: str, facts: dict[str, Any], protected_categories: list[str]) -> bool:
    """Whether a ladder step's eligibility rule admits the customer (unknown rule: no)."""
    if rule == "always":
        return True
    if rule == "not_prepaid_and_not_protected":
        return not (
            facts.get("prepaid_meter")
            or facts.get("life_support")
            or facts.get("category") in protected_categories
        )
    return False


def _union(a: list[str], b: list[str]) -> list[str]:
    return sorted(set(a) | set(b))


def enforce_floor(plan: ArrearsPlan) -> tuple[ArrearsPlan, list[str]]:
    """The plan tightened to its floor, and a line per value that had to change."""
    f = plan.floor
    changes: list[str] = []
    values: dict[str, Any] = {}

    def tighten(name: str, value: Any, rule: str) -> None:
        if value != getattr(plan, name):
            values[name] = value
            changes.append(
                f"{name}: {getattr(plan, name)!r} -> {value!r} ({f.citations.get(rule, rule)})"
            )

    lo = max(plan.notice_min_seconds, f.notice_min_seconds)
    hi = min(plan.notice_max_seconds or f.notice_max_seconds, f.notice_max_seconds)
    tighten("notice_min_seconds", lo, "notice_lead")
    tighten("notice_max_seconds", max(hi, lo), "notice_lead")
    tighten("renotice_before_seconds", max(plan.renotice_before_seconds, f.renotice_min_seconds),
            "renotice")  # fmt: skip
    within = plan.reconnection_within_seconds or f.reconnection_max_seconds
    tighten("reconnection_within_seconds", min(within, f.reconnection_max_seconds),
            "reconnection")  # fmt: skip
    tighten("approval_categories", _union(plan.approval_categories, f.approval_categories),
            "approval")  # fmt: skip
    tighten("filing_categories", _union(plan.filing_categories, f.filing_categories),
            "authority_filing")  # fmt: skip
    if "life_support" in f.never_disconnect:
        tighten("life_support_disconnect", False, "never_disconnect")
    if f.respect_calendar:
        tighten("respect_calendar", True, "protected_periods")
    return dataclasses.replace(plan, **values), changes
