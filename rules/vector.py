"""Bulk in-memory back end: the whole population evaluated column-wise with numpy.

Records become one array per referenced field (plus a presence mask); conditions, derived
fields, first-match rules and ABC ranks are array operations, never a per-row interpreter.
Strategies are resolved once per distinct segment combination. Numbers are float64, exact
for integers below 2**53 (the record contract's counts and amounts are far below that).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from rules.abc import CutPoints
from rules.assignment import Assignment, resolve_strategy
from rules.conditions import All, Cond, Leaf, Not
from rules.model import Bundle, Rule
from rules.record import is_number, validate_record

BoolArray = npt.NDArray[np.bool_]
Column = tuple[npt.NDArray[Any], BoolArray]  # values, present


def _kind_ok(kind: str, value: Any) -> bool:
    if kind == "number":
        return is_number(value)
    if kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, str)


class Columns:
    """Lazily built field columns over a list of validated records."""

    def __init__(self, bundle: Bundle, records: list[dict[str, Any]]) -> None:
        self.bundle = bundle
        self.records = records
        self.n = len(records)
        self.cols: dict[str, Column] = {}
        self.derived = {d.name: d for d in bundle.derived}

    def raw(self, name: str) -> list[Any]:
        if "." in name:
            top, sub = name.split(".", 1)
            kind = self.bundle.catalogue[name].kind
            vals = [(r.get(top) or {}).get(sub) for r in self.records]
            return [v if v is not None and _kind_ok(kind, v) else None for v in vals]
        return [r.get(name) for r in self.records]

    def get(self, name: str) -> Column:
        if name in self.cols:
            return self.cols[name]
        if name in self.derived:
            col = self._derived(name)
        else:
            raw = self.raw(name)
            present = np.fromiter((v is not None for v in raw), bool, self.n)
            kind = self.bundle.catalogue[name].kind
            if kind == "number":
                values: npt.NDArray[Any] = np.array(
                    [v if v is not None else np.nan for v in raw], dtype=np.float64
                )
            elif kind == "bool":
                values = np.fromiter((bool(v) for v in raw), bool, self.n)
            else:
                values = np.array(raw, dtype=object)
            col = (values, present)
        self.cols[name] = col
        return col

    def _operand(self, arg: str | float | int) -> Column:
        if isinstance(arg, str):
            return self.get(arg)
        return np.full(self.n, float(arg)), np.ones(self.n, bool)

    def _derived(self, name: str) -> Column:
        d = self.derived[name]
        ops = [self._operand(a) for a in d.args]
        present = np.logical_and.reduce([p for _, p in ops])
        vals = [np.where(p, v, 0.0) for v, p in ops]
        with np.errstate(divide="ignore", invalid="ignore"):
            if d.func == "sum":
                out = vals[0].copy()
                for v in vals[1:]:
                    out = out + v
            elif d.func == "difference":
                out = vals[0] - vals[1]
            elif d.func == "product":
                out = vals[0].copy()
                for v in vals[1:]:
                    out = out * v
            elif d.func == "ratio":
                present = present & (vals[1] != 0)
                out = vals[0] / np.where(vals[1] != 0, vals[1], 1.0)
            elif d.func == "min":
                out = np.minimum.reduce(vals)
            else:
                out = np.maximum.reduce(vals)
        return np.where(present, out, np.nan), present

    def set(self, name: str, values: npt.NDArray[Any]) -> None:
        self.cols[name] = (values, np.ones(self.n, bool))


def _leaf(leaf: Leaf, cols: Columns) -> BoolArray:
    values, present = cols.get(leaf.field)
    op, value = leaf.op, leaf.value
    if op == "exists":
        return present.copy()
    if op == "missing":
        return np.logical_not(present)
    if op in ("in", "not_in"):
        hit = np.logical_or.reduce([np.asarray(values == v, dtype=bool) for v in value])
        chosen: BoolArray = hit if op == "in" else np.logical_not(hit)
        return present & chosen
    with np.errstate(invalid="ignore"):
        if op == "eq":
            cmp = values == value
        elif op == "ne":
            cmp = values != value
        elif op == "gt":
            cmp = values > value
        elif op == "gte":
            cmp = values >= value
        elif op == "lt":
            cmp = values < value
        else:
            cmp = values <= value
    out: BoolArray = present & np.asarray(cmp, dtype=bool)
    return out


def evaluate_vec(cond: Cond, cols: Columns) -> BoolArray:
    """Boolean mask of the customers for whom ``cond`` holds."""
    if isinstance(cond, Leaf):
        return _leaf(cond, cols)
    if isinstance(cond, Not):
        return np.logical_not(evaluate_vec(cond.item, cols))
    parts = [evaluate_vec(c, cols) for c in cond.items]
    reduce = np.logical_and.reduce if isinstance(cond, All) else np.logical_or.reduce
    combined: BoolArray = np.asarray(reduce(parts), dtype=bool)
    return combined


def _first_match(rules: tuple[Rule, ...], default: str, cols: Columns) -> npt.NDArray[Any]:
    if not rules:
        return np.full(cols.n, default, dtype=object)
    masks = [evaluate_vec(r.when, cols) for r in rules]
    return np.select(masks, [np.array(r.label, dtype=object) for r in rules], default)


def abc_vec(bundle: Bundle, cols: Columns) -> npt.NDArray[Any]:
    """ABC classes: lexsort by (partition, unknown last, metric desc, customer_id asc)."""
    n = cols.n
    metric, present = cols.get(bundle.abc.metric)
    neg = np.where(present, -metric, 0.0)
    ids = np.array([r["customer_id"] for r in cols.records], dtype=str)
    part_by = bundle.abc.partition_by
    if part_by is None:
        part = np.zeros(n, dtype=np.int64)
    else:
        pvals, ppresent = cols.get(part_by)
        labels = np.where(ppresent, pvals, "\x00absent").astype(str)
        _, part = np.unique(labels, return_inverse=True)
    order = np.lexsort((ids, neg, ~present, part))
    sorted_part = part[order]
    sizes = np.bincount(part, minlength=int(part.max()) + 1 if n else 0)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])) if n else np.zeros(0, np.int64)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - starts[sorted_part]
    size = sizes[part]
    out = np.full(n, bundle.abc.rest, dtype=object)
    for cls, frac in reversed(bundle.abc.cuts):
        limit = -(-frac.numerator * size // frac.denominator)
        out[rank < limit] = cls
    return out


def abc_by_cuts(bundle: Bundle, cols: Columns, cuts: CutPoints) -> npt.NDArray[Any]:
    """ABC classes against a population run's cut points (no ranking of these records)."""
    metric, present = cols.get(bundle.abc.metric)
    part_by = bundle.abc.partition_by
    parts: list[Any] = [None] * cols.n
    if part_by is not None:
        pvals, ppresent = cols.get(part_by)
        parts = [v if p else None for v, p in zip(pvals.tolist(), ppresent.tolist(), strict=True)]
    values = [m if p else None for m, p in zip(metric.tolist(), present.tolist(), strict=True)]
    ids = [r["customer_id"] for r in cols.records]
    return np.array(
        [cuts.classify(p, m, c) for p, m, c in zip(parts, values, ids, strict=True)], dtype=object
    )


def segment_population(
    bundle: Bundle,
    records: Iterable[dict[str, Any]],
    *,
    validated: bool = False,
    cuts: CutPoints | None = None,
) -> list[Assignment]:
    """Assignments for a whole population (ABC ranks need everyone at once), or for any
    set of records classified against a run's ``cuts``.

    Records are validated against the contract unless the caller says they already are.
    """
    recs = list(records) if validated else [validate_record(r) for r in records]
    if not recs:
        return []
    cols = Columns(bundle, recs)
    given = np.array([r.get("category") for r in recs], dtype=object)
    derived_cat = _first_match(bundle.category_rules, bundle.category_default, cols)
    category = np.where(given != None, given, derived_cat)  # noqa: E711 (elementwise)
    cols.set("category", category)
    abc = abc_vec(bundle, cols) if cuts is None else abc_by_cuts(bundle, cols, cuts)
    cols.set("abc_class", abc)
    tag_masks = [evaluate_vec(t.when, cols) for t in bundle.tags]
    tier = _first_match(bundle.tiers, bundle.tier_default, cols)
    # one row per customer of small integer codes; unique rows = segment combinations
    columns = [np.unique(v.astype(str), return_inverse=True)[1].reshape(-1)
               for v in (category, abc, tier)]  # fmt: skip
    matrix = np.column_stack([*columns, *tag_masks]).astype(np.int64)
    _, first, inverse = np.unique(matrix, axis=0, return_index=True, return_inverse=True)
    combos = []
    for idx in first.tolist():
        tags = tuple(sorted(t.id for t, mask in zip(bundle.tags, tag_masks, strict=True)
                            if mask[idx]))  # fmt: skip
        cat, cls, tr = str(category[idx]), str(abc[idx]), str(tier[idx])
        actions, processes = resolve_strategy(bundle, cat, cls, tags, tr)
        combos.append((cat, cls, tags, tr, actions, processes))
    version = bundle.version
    out = []
    for rec, k in zip(recs, inverse.reshape(-1).tolist(), strict=True):
        c = combos[k]
        out.append(Assignment(rec["customer_id"], c[0], c[1], c[2], c[3], c[4], c[5], version))
    return out
