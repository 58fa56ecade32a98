"""Semantic checks and compilation of segments.yaml (schema validation has already run).

Builds the field catalogue (record fields, contacts, declared attributes, derived fields),
orders derived fields and rejects cycles, and compiles category, tag and tier conditions.
Every check is defensive: the schema may already have reported a malformed part.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from rules.conditions import (
    DERIVED_FUNCS,
    ConditionChecker,
    Derived,
    FieldSpec,
)
from rules.errors import PolicyIssue, did_you_mean
from rules.model import AbcSettings, Rule, Source
from rules.record import ABC_CLASSES, CATEGORIES, CONTACT_FIELDS, ENUMS, RECORD_FIELDS
from rules.yamlpos import Document, Path, dotted

_KIND = {"str": "str", "int": "number", "number": "number", "bool": "bool", "optional_bool": "bool"}
_ATTR_KIND = {"number": "number", "string": "str", "boolean": "bool"}


def record_catalogue() -> dict[str, FieldSpec]:
    """Fields of the record contract as conditions see them (after defaults)."""
    out: dict[str, FieldSpec] = {}
    for name, kind in RECORD_FIELDS.items():
        if kind == "object" or name == "category":
            continue  # the record's category is only an input; `category` means the result
        out[name] = FieldSpec(name, _KIND[kind], ENUMS.get(name))
    for name, kind in CONTACT_FIELDS.items():
        out[f"contacts.{name}"] = FieldSpec(f"contacts.{name}", _KIND[kind])
    return out


@dataclass
class Segments:
    catalogue: dict[str, FieldSpec]
    derived: tuple[Derived, ...]
    category_rules: tuple[Rule, ...]
    category_default: str
    abc: AbcSettings
    tags: tuple[Rule, ...]
    tiers: tuple[Rule, ...]
    tier_default: str
    # names as declared, even where a condition failed (no cascading "unknown tag" errors);
    # None when the section itself is unusable
    declared_tags: tuple[str, ...] | None
    declared_tiers: tuple[str, ...] | None


def build_segments(doc: Document, issues: list[PolicyIssue]) -> Segments:
    data = doc.data if isinstance(doc.data, dict) else {}
    catalogue = record_catalogue()
    attrs = data.get("attributes")
    for name, spec in (attrs if isinstance(attrs, dict) else {}).items():
        if isinstance(spec, dict) and spec.get("type") in _ATTR_KIND:
            key = f"attributes.{name}"
            catalogue[key] = FieldSpec(key, _ATTR_KIND[spec["type"]])
    derived = _derived(doc, data.get("derived"), catalogue, issues)
    raw_derived = data.get("derived")
    for name in raw_derived if isinstance(raw_derived, dict) else {}:
        # every declared name, even one in a cycle, so conditions do not cascade errors
        catalogue.setdefault(name, FieldSpec(name, "number"))
    base = ConditionChecker(doc, catalogue, issues)
    category_rules, category_default = _first_match(
        doc, data.get("category"), ("category",), "category", base
    )
    full = dict(catalogue)
    full["category"] = FieldSpec("category", "str", CATEGORIES)
    full["abc_class"] = FieldSpec("abc_class", "str", ABC_CLASSES)
    checker = ConditionChecker(doc, full, issues)
    tags: list[Rule] = []
    raw_tags = data.get("tags")
    for name, spec in (raw_tags if isinstance(raw_tags, dict) else {}).items():
        if isinstance(spec, dict) and "when" in spec:
            path: Path = ("tags", name, "when")
            cond = checker.compile(spec["when"], path)
            if cond is not None:
                tags.append(Rule(name, name, cond, spec["when"], _source(doc, path)))
    tiers, tier_default = _first_match(
        doc, data.get("points_tiers"), ("points_tiers",), "tier", checker
    )
    abc = _abc(doc, data.get("abc"), full, issues)
    raw_tiers = data.get("points_tiers")
    tier_rules = raw_tiers.get("rules") if isinstance(raw_tiers, dict) else None
    declared_tiers = None
    if isinstance(tier_rules, list):
        names = [r.get("tier") for r in tier_rules if isinstance(r, dict)]
        names.append(raw_tiers.get("default") if isinstance(raw_tiers, dict) else None)
        declared_tiers = tuple(dict.fromkeys(n for n in names if isinstance(n, str)))
    return Segments(
        catalogue,
        derived,
        category_rules,
        category_default,
        abc,
        tuple(tags),
        tiers,
        tier_default,
        tuple(raw_tags) if isinstance(raw_tags, dict) else None,
        declared_tiers,
    )


def _source(doc: Document, path: Path) -> Source:
    return Source(doc.file, doc.values.get(path, (1, 1))[0], dotted(path))


def _first_match(
    doc: Document, section: Any, base: Path, label_key: str, checker: ConditionChecker
) -> tuple[tuple[Rule, ...], str]:
    if not isinstance(section, dict):
        return (), "other"
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    raw_rules = section.get("rules")
    for i, rule in enumerate(raw_rules if isinstance(raw_rules, list) else []):
        if not isinstance(rule, dict) or "when" not in rule or label_key not in rule:
            continue
        rid = str(rule.get("id", rule[label_key]))
        if rid in seen:
            checker.issues.append(
                doc.issue(
                    (*base, "rules", i, "id" if "id" in rule else label_key),
                    f"duplicate rule id {rid!r} (first at rules[{seen[rid]}])",
                )
            )
        seen[rid] = i
        path: Path = (*base, "rules", i, "when")
        cond = checker.compile(rule["when"], path)
        if cond is not None and isinstance(rule[label_key], str):
            rules.append(Rule(rid, rule[label_key], cond, rule["when"], _source(doc, path)))
    default = section.get("default")
    return tuple(rules), default if isinstance(default, str) else "other"


def _derived(
    doc: Document, section: Any, catalogue: dict[str, FieldSpec], issues: list[PolicyIssue]
) -> tuple[Derived, ...]:
    if not isinstance(section, dict):
        return ()
    defs: dict[str, Derived] = {}
    for name, spec in section.items():
        path: Path = ("derived", name)
        if name in catalogue:
            issues.append(
                doc.issue(path, f"derived field {name!r} shadows a record field", at_key=True)
            )
            continue
        if not isinstance(spec, dict) or len(spec) != 1:
            continue  # the schema reports the shape
        func, args = next(iter(spec.items()))
        if func not in DERIVED_FUNCS or not isinstance(args, list):
            continue
        ok = True
        for i, arg in enumerate(args):
            if isinstance(arg, str) and arg not in section:
                spec_ = catalogue.get(arg)
                if spec_ is None:
                    hint = did_you_mean(arg, [*catalogue, *section])
                    issues.append(doc.issue((*path, func, i), f"unknown field {arg!r}{hint}"))
                    ok = False
                elif spec_.kind != "number":
                    issues.append(
                        doc.issue(
                            (*path, func, i),
                            f"type mismatch: {func} needs numbers, {arg!r} is a {spec_.kind} field",
                        )
                    )
                    ok = False
        if ok:
            defs[name] = Derived(name, func, tuple(args))
    return _topo(doc, defs, issues)


def _topo(
    doc: Document, defs: dict[str, Derived], issues: list[PolicyIssue]
) -> tuple[Derived, ...]:
    order: list[Derived] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done
    reported: set[str] = set()

    def visit(name: str, trail: list[str]) -> bool:
        if state.get(name) == 2:
            return True
        if state.get(name) == 1:
            cycle = [*trail[trail.index(name) :], name]
            first = min(cycle[:-1])
            if first not in reported:
                reported.update(cycle)
                issues.append(
                    doc.issue(
                        ("derived", first),
                        "derived field cycle: " + " -> ".join(cycle),
                        at_key=True,
                    )
                )
            return False
        state[name] = 1
        ok = all(
            visit(a, [*trail, name]) for a in defs[name].args if isinstance(a, str) and a in defs
        )
        state[name] = 2
        if ok:
            order.append(defs[name])
        return ok

    for name in defs:
        visit(name, [])
    return tuple(order)


def _abc(
    doc: Document, section: Any, full: dict[str, FieldSpec], issues: list[PolicyIssue]
) -> AbcSettings:
    default = AbcSettings(
        "annual_revenue", (("A", Fraction(1, 20)), ("B", Fraction(1, 5))), "C", None
    )
    if not isinstance(section, dict):
        return default
    metric = section.get("metric")
    spec = full.get(metric) if isinstance(metric, str) else None
    if isinstance(metric, str) and (spec is None or metric in ("category", "abc_class")):
        issues.append(
            doc.issue(("abc", "metric"), f"unknown field {metric!r}{did_you_mean(metric, full)}")
        )
    elif spec is not None and spec.kind != "number":
        issues.append(
            doc.issue(
                ("abc", "metric"),
                f"the ABC metric must be a number field, {metric!r} is a {spec.kind} field",
            )
        )
    part = section.get("partition_by")
    pspec = full.get(part) if isinstance(part, str) else None
    if isinstance(part, str) and (pspec is None or part == "abc_class"):
        issues.append(
            doc.issue(("abc", "partition_by"), f"unknown field {part!r}{did_you_mean(part, full)}")
        )
    elif pspec is not None and pspec.kind != "str":
        issues.append(
            doc.issue(
                ("abc", "partition_by"),
                f"partition_by must be a string field, {part!r} is a {pspec.kind} field",
            )
        )
    cuts = section.get("cuts")
    if not isinstance(cuts, dict):
        return default
    a, b = cuts.get("A"), cuts.get("B")
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b)):
        return default
    fa, fb = Fraction(str(a)), Fraction(str(b))
    if fa > fb:
        issues.append(
            doc.issue(
                ("abc", "cuts", "B"),
                f"cut B ({b}) must be >= cut A ({a}): cuts are cumulative top fractions",
            )
        )
    return AbcSettings(
        metric if isinstance(metric, str) else "annual_revenue",
        (("A", fa), ("B", fb)),
        "C",
        part if isinstance(part, str) else None,
    )
