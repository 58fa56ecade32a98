"""The condition language: typed field catalogue, condition AST, load-time checks, evaluation.

One model for every back end. Conditions are ``all`` / ``any`` / ``not`` and leaves
``{field, op, value}``; derived fields come from a fixed vocabulary (no ``eval``). A leaf on
an absent (unknown) value is false, ``exists``/``missing`` excepted; ``not`` is plain
negation of that two-valued result, and every back end compiles to exactly this.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from rules.errors import PolicyIssue, did_you_mean
from rules.record import is_number
from rules.yamlpos import Document, Path

OPS: Final = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "exists", "missing")
KIND_OPS: Final[dict[str, frozenset[str]]] = {
    "number": frozenset(OPS),
    "str": frozenset({"eq", "ne", "in", "not_in", "exists", "missing"}),
    "bool": frozenset({"eq", "ne", "exists", "missing"}),
}
DERIVED_FUNCS: Final = ("sum", "difference", "product", "ratio", "min", "max")


@dataclass(frozen=True)
class FieldSpec:
    """A name conditions may read: its kind and, for closed lists, the allowed values.

    Any field may be absent (unknown) at evaluation time; the back ends treat all alike.
    """

    name: str
    kind: str  # number | str | bool
    enum: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Leaf:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class All:
    items: tuple[Cond, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Cond, ...]


@dataclass(frozen=True)
class Not:
    item: Cond


Cond = Leaf | All | AnyOf | Not


@dataclass(frozen=True)
class Derived:
    """A named derived number: ``func`` over operands (field names or number literals)."""

    name: str
    func: str
    args: tuple[str | float | int, ...]


def fields_of(cond: Cond) -> list[str]:
    """Every field name a condition reads, in order of appearance, without repeats."""
    out: list[str] = []

    def walk(c: Cond) -> None:
        if isinstance(c, Leaf):
            if c.field not in out:
                out.append(c.field)
        elif isinstance(c, Not):
            walk(c.item)
        else:
            for item in c.items:
                walk(item)

    walk(cond)
    return out


def representable(value: Any) -> bool:
    """Whether a condition literal survives durable's own JSON round trip of rule definitions
    (it writes them with json.dumps, so 1e-05 or 1e+16 would break the ruleset)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return True
    if isinstance(value, int):
        return abs(value) < 2**53
    return value == 0 or 1e-4 <= abs(value) < 1e16


def _value_ok(spec: FieldSpec, value: Any) -> bool:
    if spec.kind == "number":
        return is_number(value)
    if spec.kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, str)


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "null"
    return f"{type(value).__name__} {value!r}"


class ConditionChecker:
    """Compiles YAML condition nodes into the AST, collecting every issue with its position."""

    def __init__(
        self, doc: Document, catalogue: Mapping[str, FieldSpec], issues: list[PolicyIssue]
    ):
        self.doc = doc
        self.catalogue = catalogue
        self.issues = issues

    def _err(self, path: Path, message: str, *, at_key: bool = False) -> None:
        self.issues.append(self.doc.issue(path, message, at_key=at_key))

    def compile(self, node: Any, path: Path) -> Cond | None:
        """Return the condition at ``path`` or None after recording its issues."""
        if not isinstance(node, dict):
            self._err(path, f"a condition must be a mapping, got {_describe(node)}")
            return None
        combinators = [k for k in ("all", "any", "not") if k in node]
        if combinators:
            for key in node:
                if key not in ("all", "any", "not"):
                    self._err(
                        (*path, key), f"unknown key {key!r} next to {combinators[0]!r}", at_key=True
                    )
            if len(combinators) > 1:
                self._err(path, f"use one of all/any/not per condition, got {combinators}")
                return None
            key = combinators[0]
            if key == "not":
                inner = self.compile(node["not"], (*path, "not"))
                return Not(inner) if inner is not None else None
            items = node[key]
            if not isinstance(items, list) or not items:
                self._err((*path, key), f"{key!r} takes a non-empty list of conditions")
                return None
            compiled = [self.compile(item, (*path, key, i)) for i, item in enumerate(items)]
            if any(c is None for c in compiled):
                return None
            done = tuple(c for c in compiled if c is not None)
            return All(done) if key == "all" else AnyOf(done)
        return self._leaf(node, path)

    def _leaf(self, node: dict[str, Any], path: Path) -> Cond | None:
        ok = True
        for key in node:
            if key not in ("field", "op", "value"):
                hint = did_you_mean(key, ("field", "op", "value", "all", "any", "not"))
                self._err((*path, key), f"unknown key {key!r}{hint}", at_key=True)
                ok = False
        for key in ("field", "op"):
            if key not in node:
                self._err(path, f"missing {key!r} (a condition is all/any/not or field/op/value)")
                ok = False
        if not ok:
            return None
        field, op = node["field"], node["op"]
        if not isinstance(field, str) or field not in self.catalogue:
            hint = did_you_mean(str(field), self.catalogue)
            self._err((*path, "field"), f"unknown field {field!r}{hint}")
            return None
        if not isinstance(op, str) or op not in OPS:
            hint = did_you_mean(str(op), OPS)
            self._err((*path, "op"), f"unknown op {op!r}{hint}; expected one of {', '.join(OPS)}")
            return None
        spec = self.catalogue[field]
        if op not in KIND_OPS[spec.kind]:
            self._err((*path, "op"), f"op {op!r} does not apply to {spec.kind} field {field!r}")
            return None
        if op in ("exists", "missing"):
            if "value" in node:
                self._err((*path, "value"), f"op {op!r} takes no value", at_key=True)
                return None
            return Leaf(field, op, None)
        if "value" not in node:
            self._err(path, f"op {op!r} needs a 'value'")
            return None
        value = node["value"]
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                self._err(
                    (*path, "value"), f"op {op!r} takes a non-empty list, got {_describe(value)}"
                )
                return None
            checked = [self._check_value(spec, v, (*path, "value", i)) for i, v in enumerate(value)]
            return Leaf(field, op, tuple(value)) if all(checked) else None
        if not self._check_value(spec, value, (*path, "value")):
            return None
        return Leaf(field, op, value)

    def _check_value(self, spec: FieldSpec, value: Any, path: Path) -> bool:
        if _value_ok(spec, value) and not representable(value):
            self._err(
                path,
                f"number {value!r} is out of range for conditions (use 0 or a "
                "magnitude between 0.0001 and 1e16)",
            )
            return False
        if not _value_ok(spec, value):
            self._err(
                path,
                f"type mismatch: {spec.kind} field {spec.name!r} compared with {_describe(value)}",
            )
            return False
        if spec.enum is not None and value not in spec.enum:
            hint = did_you_mean(value, spec.enum)
            self._err(
                path,
                f"{value!r} is not a possible value of {spec.name!r}{hint}; "
                f"expected one of {', '.join(spec.enum)}",
            )
            return False
        return True


def eval_leaf(leaf: Leaf, actual: Any) -> bool:
    """Evaluate one leaf against the actual value (None = absent)."""
    op = leaf.op
    if op == "exists":
        return actual is not None
    if op == "missing":
        return actual is None
    if actual is None:
        return False
    return bool(_COMPARE[op](actual, leaf.value))


_COMPARE: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "in": lambda a, b: a in b,
    "not_in": lambda a, b: a not in b,
}


def evaluate(cond: Cond, get: Callable[[str], Any]) -> bool:
    """Evaluate a condition; ``get`` returns a field's value or None when absent."""
    if isinstance(cond, Leaf):
        return eval_leaf(cond, get(cond.field))
    if isinstance(cond, Not):
        return not evaluate(cond.item, get)
    if isinstance(cond, All):
        return all(evaluate(c, get) for c in cond.items)
    return any(evaluate(c, get) for c in cond.items)


def eval_derived(d: Derived, get: Callable[[str], Any]) -> float | int | None:
    """Compute a derived number; None when an operand is absent or a ratio divides by 0.

    Arithmetic is in float64 (Python floats), the same in every back end: SQL casts its
    operands to FLOAT (PostgreSQL's 32-bit INTEGER sums would overflow), numpy uses float64.
    """
    raw = [a if not isinstance(a, str) else get(a) for a in d.args]
    if any(v is None for v in raw):
        return None
    values = [float(v) for v in raw]
    if d.func == "sum":
        return sum(values)
    if d.func == "difference":
        return values[0] - values[1]
    if d.func == "product":
        out = 1.0
        for v in values:
            out *= v
        return out
    if d.func == "ratio":
        return None if values[1] == 0 else values[0] / values[1]
    if d.func == "min":
        return min(values)
    return max(values)
