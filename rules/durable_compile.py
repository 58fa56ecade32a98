"""Compile the condition AST to durable_rules 2.0.28 JSON rule definitions.

Works around the engine's known traps (DESIGN.md "Rules engine"): no ``in`` operator (OR
of equalities; an OR fires once per true branch, so callers dedupe); ``$nex`` hangs the
engine in 2.0.28, so absence is an explicit presence flag ``<key>__p`` in the fact; every
rule is guarded by the ``id`` field's existence so it never matches the engine's own state.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any, Final

from rules.conditions import All, Cond, Leaf, Not

_OPS: Final = {"ne": "$neq", "gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}
_INVERSE: Final = {
    "eq": "ne",
    "ne": "eq",
    "gt": "lte",
    "gte": "lt",
    "lt": "gte",
    "lte": "gt",
    "in": "not_in",
    "not_in": "in",
    "exists": "missing",
    "missing": "exists",
}

Expr = dict[str, Any]


@cache
def fact_key(field: str) -> str:
    """Fact attribute for a field; dotted names are flattened (no nested lookups needed)."""
    return field.replace(".", "__")


@cache
def presence_key(field: str) -> str:
    return fact_key(field) + "__p"


def _and(items: list[Expr]) -> Expr:
    return items[0] if len(items) == 1 else {"$and": items}


def _or(items: list[Expr]) -> Expr:
    return items[0] if len(items) == 1 else {"$or": items}


def _compare(key: str, op: str, value: Any) -> Expr:
    if op == "eq":
        return {key: value}
    if op == "in":
        return _or([{key: v} for v in value])
    if op == "not_in":
        return _and([{"$neq": {key: v}} for v in value])
    return {_OPS[op]: {key: value}}


def _leaf(leaf: Leaf, negate: bool) -> Expr:
    op = _INVERSE[leaf.op] if negate else leaf.op
    present = presence_key(leaf.field)
    if op == "exists":
        return {present: True}
    if op == "missing":
        return {present: False}
    cmp = _compare(fact_key(leaf.field), op, leaf.value)
    # two-valued logic: a leaf on an absent value is false, so its negation is true
    return {"$or": [{present: False}, cmp]} if negate else {"$and": [{present: True}, cmp]}


def compile_cond(cond: Cond, negate: bool = False) -> Expr:
    """durable expression for ``cond`` (negations pushed down to the leaves)."""
    if isinstance(cond, Leaf):
        return _leaf(cond, negate)
    if isinstance(cond, Not):
        return compile_cond(cond.item, not negate)
    parts = [compile_cond(c, negate) for c in cond.items]
    conjunction = isinstance(cond, All) != negate
    return _and(parts) if conjunction else _or(parts)


def guarded(expr: Expr) -> Expr:
    """The rule body: only facts carrying an ``id`` can match."""
    return {"$and": [{"$ex": {"id": 1}}, expr]}


def _number(value: float) -> str:
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    if e and "." not in mantissa:
        # durable's parser rejects "1e-05" (no point in the mantissa) but reads "1.0e-05"
        return f"{mantissa}.0e{exponent}"
    return text


def dumps(message: dict[str, Any]) -> str:
    """JSON for a flat fact or event, with numbers written the way durable can parse them."""
    if not any(type(v) is float and v != 0 and not 1e-4 <= abs(v) < 1e16 for v in message.values()):
        return json.dumps(message, ensure_ascii=False)  # repr never uses an exponent here
    parts = []
    for key, value in message.items():
        text = _number(value) if type(value) is float else json.dumps(value, ensure_ascii=False)
        parts.append(f"{json.dumps(key)}:{text}")
    return "{" + ",".join(parts) + "}"


def fact_for(fields: list[str], get: Callable[[str], Any]) -> dict[str, Any]:
    """Flattened fact with a presence flag per field (absent values are left out)."""
    fact: dict[str, Any] = {}
    for name in fields:
        value = get(name)
        fact[presence_key(name)] = value is not None
        if value is not None:
            fact[fact_key(name)] = value
    return fact
