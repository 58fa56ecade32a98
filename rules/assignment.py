"""Strategy resolution (segments -> merged actions -> processes) and the Assignment result.

Resolution depends only on the segment combination, so it is cached per distinct
combination: a bulk run over a million customers resolves a few hundred combinations.
Cached dicts are shared; treat them as read-only.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rules.durations import parse_duration
from rules.model import Bundle, Parameter, Strategy


@dataclass(frozen=True)
class Assignment:
    """Everything the service stores for one customer under one policy version."""

    customer_id: str
    category: str
    abc_class: str
    tags: tuple[str, ...]
    points_tier: str
    actions: dict[str, Any]
    processes: dict[str, dict[str, Any]]
    policy_version: str

    def to_json(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "category": self.category,
            "abc_class": self.abc_class,
            "tags": list(self.tags),
            "points_tier": self.points_tier,
            "actions": copy.deepcopy(self.actions),
            "processes": copy.deepcopy(self.processes),
            "policy_version": self.policy_version,
        }


def strategy_applies(
    s: Strategy, category: str, abc_class: str, tags: tuple[str, ...], points_tier: str
) -> bool:
    if s.dimension == "all":
        return True
    if s.dimension == "tag":
        return not s.values.isdisjoint(tags)
    value = {"category": category, "abc_class": abc_class, "points_tier": points_tier}
    return value[s.dimension] in s.values


def combine(param: Parameter, values: list[Any]) -> Any:
    """Merge the values of one parameter, listed in strategy priority order."""
    how = param.combine
    if how == "first":
        return values[0]
    if how == "any":
        return any(values)
    if how == "all":
        return all(values)
    if how == "union":
        return list(dict.fromkeys(v for value in values for v in value))
    key = parse_duration if param.type == "duration" else None
    return min(values, key=key) if how == "min" else max(values, key=key)


def resolve_strategy(
    bundle: Bundle, category: str, abc_class: str, tags: Iterable[str], points_tier: str
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(actions, processes) for a segment combination, computed once per combination."""
    key = tags if isinstance(tags, tuple) else tuple(sorted(tags))
    return _resolve(bundle, category, abc_class, key, points_tier)


@lru_cache(maxsize=65536)
def _resolve(
    bundle: Bundle, category: str, abc_class: str, tags: tuple[str, ...], points_tier: str
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    actions, _ = resolve_with_sources(bundle, category, abc_class, tags, points_tier)
    processes: dict[str, dict[str, Any]] = {}
    for link in bundle.process_links:
        if link.enabled_by is not None and not actions.get(link.enabled_by):
            continue
        processes[link.name] = {
            pname: actions[action] for pname, action in link.parameters.items() if action in actions
        }
    return actions, processes


def resolve_with_sources(
    bundle: Bundle, category: str, abc_class: str, tags: tuple[str, ...], points_tier: str
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Merged actions plus, per parameter, the strategy ids that set it (for explanations)."""
    collected: dict[str, list[Any]] = {}
    sources: dict[str, list[str]] = {}
    for strat in bundle.strategies:
        if strategy_applies(strat, category, abc_class, tags, points_tier):
            for name, value in strat.actions.items():
                collected.setdefault(name, []).append(value)
                sources.setdefault(name, []).append(strat.id)
    actions: dict[str, Any] = {}
    for name, param in bundle.parameters.items():
        if name in collected:
            actions[name] = combine(param, collected[name])
        elif param.default is not None:
            actions[name] = copy.deepcopy(param.default)
            sources[name] = ["default"]
    return actions, sources
