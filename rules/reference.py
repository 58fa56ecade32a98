"""The plain reference evaluator: the oracle of the conformance suite and the explainer.

Straightforward Python over one validated record, written for clarity, not speed; every
other back end (durable-rules, numpy, SQL) must agree with it customer by customer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rules.abc import CutPoints, abc_class_for_rank, rank_population, reference_cut_points
from rules.assignment import Assignment, resolve_strategy, resolve_with_sources
from rules.conditions import Cond, eval_derived, evaluate, fields_of
from rules.model import Bundle, Rule, Strategy
from rules.record import is_number, validate_record

Getter = Callable[[str], Any]


def field_getter(bundle: Bundle, record: Mapping[str, Any], **computed: Any) -> Getter:
    """Values as conditions see them: None = absent; derived fields computed on demand."""
    cache: dict[str, Any] = dict(computed)
    derived = {d.name: d for d in bundle.derived}

    def get(name: str) -> Any:
        if name in cache:
            return cache[name]
        if name in derived:
            value = eval_derived(derived[name], get)
        elif "." in name:
            top, sub = name.split(".", 1)
            value = (record.get(top) or {}).get(sub)
            spec = bundle.catalogue.get(name)
            if value is not None and spec is not None and not _kind_ok(spec.kind, value):
                value = None  # an attribute of the wrong type is unknown, never coerced
        else:
            value = record.get(name)
        cache[name] = value
        return value

    return get


def _kind_ok(kind: str, value: Any) -> bool:
    if kind == "number":
        return is_number(value)
    if kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, str)


def _first(rules: tuple[Rule, ...], get: Getter) -> Rule | None:
    return next((r for r in rules if evaluate(r.when, get)), None)


@dataclass(frozen=True)
class Segmentation:
    category: str
    category_rule: str
    abc_class: str
    tags: tuple[str, ...]
    points_tier: str
    tier_rule: str


def category_of(bundle: Bundle, record: Mapping[str, Any]) -> tuple[str, str]:
    """(category, rule id): the CRM's category when sent, else the first matching rule."""
    if record.get("category") is not None:
        return record["category"], "record.category"
    rule = _first(bundle.category_rules, field_getter(bundle, record))
    return (rule.label, rule.id) if rule else (bundle.category_default, "default")


def segment_record(bundle: Bundle, record: dict[str, Any], abc_class: str) -> Segmentation:
    category, cat_rule = category_of(bundle, record)
    get = field_getter(bundle, record, category=category, abc_class=abc_class)
    tags = tuple(sorted(t.id for t in bundle.tags if evaluate(t.when, get)))
    tier = _first(bundle.tiers, get)
    return Segmentation(
        category,
        cat_rule,
        abc_class,
        tags,
        tier.label if tier else bundle.tier_default,
        tier.id if tier else "default",
    )


def assign(bundle: Bundle, record: dict[str, Any], abc_class: str) -> Assignment:
    seg = segment_record(bundle, record, abc_class)
    actions, processes = resolve_strategy(
        bundle, seg.category, abc_class, seg.tags, seg.points_tier
    )
    return Assignment(
        record["customer_id"],
        seg.category,
        abc_class,
        seg.tags,
        seg.points_tier,
        actions,
        processes,
        bundle.version,
    )


def abc_partition_of(bundle: Bundle, rec: Mapping[str, Any], category: Any = None) -> Any:
    """The ABC partition value of a record (None without partitions)."""
    part = bundle.abc.partition_by
    if part is None:
        return None
    if part == "category":
        return category if category is not None else category_of(bundle, rec)[0]
    return field_getter(bundle, rec)(part)


def abc_metric_of(bundle: Bundle, rec: Mapping[str, Any]) -> Any:
    """The ABC metric of a record as conditions see it (None = unknown)."""
    return field_getter(bundle, rec)(bundle.abc.metric)


def abc_classes(bundle: Bundle, records: list[dict[str, Any]]) -> dict[str, tuple[str, int, int]]:
    """Reference ABC over a validated population: customer_id -> (class, rank, n)."""
    return rank_population(
        bundle,
        records,
        lambda rec: abc_partition_of(bundle, rec),
        lambda rec: abc_metric_of(bundle, rec),
    )


def abc_cut_points(bundle: Bundle, records: list[dict[str, Any]]) -> CutPoints:
    """Reference cut points of a validated population (plain sort)."""
    return reference_cut_points(
        bundle,
        records,
        lambda rec: abc_partition_of(bundle, rec),
        lambda rec: abc_metric_of(bundle, rec),
    )


def segment_population(bundle: Bundle, records: Iterable[dict[str, Any]]) -> list[Assignment]:
    """Reference whole-population run (oracle for the fast back ends)."""
    recs = list(records)
    classes = abc_classes(bundle, recs)
    return [assign(bundle, r, classes[r["customer_id"]][0]) for r in recs]


def _explain_rule(
    bundle: Bundle, rule_id: str, cond: Cond | None, raw: Any, source: Any, get: Getter, value: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"value": value, "rule": rule_id, "policy_version": bundle.version}
    if cond is not None:
        out["condition"] = raw
        out["holds"] = evaluate(cond, get)
        out["values"] = {f: get(f) for f in fields_of(cond)}
        out["source"] = f"{source.file}:{source.line}: {source.path}"
        derived = _derived_used(bundle, fields_of(cond), get)
        if derived:
            out["derived"] = derived
    return out


def _derived_used(bundle: Bundle, names: list[str], get: Getter) -> dict[str, Any]:
    """Formula and operand values of every derived field read (directly or indirectly)."""
    by_name = {d.name: d for d in bundle.derived}
    out: dict[str, Any] = {}
    todo = [n for n in names if n in by_name]
    while todo:
        name = todo.pop(0)
        if name in out:
            continue
        d = by_name[name]
        operands = [a for a in d.args if isinstance(a, str)]
        out[name] = {"formula": {d.func: list(d.args)}, "value": get(name),
                     "operands": {a: get(a) for a in operands}}  # fmt: skip
        todo += [a for a in operands if a in by_name]
    return out


def explain(
    bundle: Bundle,
    record: Any,
    abc_class: str,
    rank: int | None = None,
    n: int | None = None,
) -> dict[str, Any]:
    """Why this customer got each segment and action: rule ids, conditions, actual values.

    The record is validated first (defaults applied), exactly as the engines see it.
    """
    record = validate_record(record)
    seg = segment_record(bundle, record, abc_class)
    base = field_getter(bundle, record)
    by_id = {r.id: r for r in bundle.category_rules}
    crule = by_id.get(seg.category_rule)
    category = _explain_rule(
        bundle,
        seg.category_rule,
        crule.when if crule else None,
        crule.raw if crule else None,
        crule.source if crule else None,
        base,
        seg.category,
    )
    if seg.category_rule == "record.category":
        category["values"] = {"category": record["category"]}
    elif seg.category_rule == "default":
        category["not_matched"] = [r.id for r in bundle.category_rules]
    get = field_getter(bundle, record, category=seg.category, abc_class=abc_class)
    metric = bundle.abc.metric
    abc: dict[str, Any] = {
        "value": abc_class,
        "rule": "abc",
        "policy_version": bundle.version,
        "settings": bundle.abc.to_json(),
        "values": {metric: get(metric)},
    }
    if rank is not None and n is not None:
        abc.update(rank=rank, n=n, expected=abc_class_for_rank(bundle, rank, n))
    tags = {
        t.id: _explain_rule(bundle, t.id, t.when, t.raw, t.source, get, t.id in seg.tags)
        for t in bundle.tags
    }
    trule = next((r for r in bundle.tiers if r.id == seg.tier_rule), None)
    tier = _explain_rule(
        bundle,
        seg.tier_rule,
        trule.when if trule else None,
        trule.raw if trule else None,
        trule.source if trule else None,
        get,
        seg.points_tier,
    )
    actions, sources = resolve_with_sources(
        bundle, seg.category, abc_class, seg.tags, seg.points_tier
    )
    params = bundle.parameters
    strategies = {s.id: s for s in bundle.strategies}
    return {
        "customer_id": record["customer_id"],
        "policy_version": bundle.version,
        "category": category,
        "abc_class": abc,
        "tags": tags,
        "points_tier": tier,
        "actions": {
            name: {
                "value": value,
                "rules": [
                    f"strategies.{s}" if s != "default" else "parameters.default"
                    for s in sources[name]
                ],
                "combine": params[name].combine,
                "from": [_strategy_source(strategies, s, name) for s in sources[name]],
                "policy_version": bundle.version,
            }
            for name, value in actions.items()
        },
    }


def _strategy_source(strategies: dict[str, Strategy], sid: str, param: str) -> dict[str, Any]:
    """Which segment selector gave which value for one action parameter."""
    if sid == "default":
        return {"rule": "parameters.default", "param": param}
    s = strategies[sid]
    selector: Any = True if s.dimension == "all" else sorted(s.values)
    return {"rule": f"strategies.{sid}", "applies_to": {s.dimension: selector},
            "value": s.actions[param], "source": f"{s.source.file}:{s.source.line}: "
            f"{s.source.path}"}  # fmt: skip
