"""Bulk back end in the database: conditions compiled to SQLAlchemy Core expressions.

``population_select`` yields one row per customer with category, ABC class (a ROW_NUMBER
window; partition sizes by COUNT(*) OVER (PARTITION BY ...), or one plain count without a
partition), one boolean column per tag (``tag_<id>``) and the points tier; it runs on
SQLite and PostgreSQL. Every leaf is guarded with IS NOT NULL so results are
two-valued (a condition on an unknown value is false, and NOT of it is true), exactly as the
reference evaluator. Ties order by customer_id in byte order (COLLATE "C" on PostgreSQL).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from rules.abc import CutPoints
from rules.assignment import Assignment, resolve_strategy
from rules.conditions import All, Cond, Leaf, Not, fields_of
from rules.model import Bundle, Rule
from rules.sql_types import ByteOrder, JsonValueIs

Expr = ColumnElement[Any]


def _label(name: str) -> str:
    return "f_" + name.replace(".", "__")


class _Compiler:
    def __init__(self, bundle: Bundle, columns: Any) -> None:
        self.bundle = bundle
        self.columns = columns  # field name -> column (a Table's .c or a plain dict)
        self.derived = {d.name: d for d in bundle.derived}

    def col(self, name: str) -> Expr:
        if name in self.columns:
            c: Expr = self.columns[name]
            return c
        if name in self.derived:
            return self._derived(name)
        if "." in name:
            top, sub = name.split(".", 1)
            kind = self.bundle.catalogue[name].kind
            item = self.columns[top][sub]
            conv = {"number": item.as_float, "bool": item.as_boolean}.get(kind, item.as_string)
            guard = JsonValueIs(self.columns[top], sub, kind)
            extracted: Expr = sa.case((guard, conv()), else_=sa.null())
            return extracted
        raise KeyError(name)

    def _operand(self, arg: str | float | int) -> Expr:
        # float64 arithmetic like the reference (and no 32-bit INTEGER overflow on PostgreSQL)
        if isinstance(arg, str):
            value = self.col(arg)
            return value if arg in self.derived else sa.cast(value, sa.Float)
        return sa.literal(float(arg), sa.Float)

    def _derived(self, name: str) -> Expr:
        d = self.derived[name]
        ops = [self._operand(a) for a in d.args]
        if d.func == "ratio":
            den = ops[1]
            return sa.case((den == 0, sa.null()), else_=ops[0] / den)
        out = ops[0]
        for nxt in ops[1:]:
            if d.func == "sum":
                out = out + nxt
            elif d.func == "difference":
                out = out - nxt
            elif d.func == "product":
                out = out * nxt
            else:  # min / max with NULL propagation like the reference
                pick = out <= nxt if d.func == "min" else out >= nxt
                out = sa.case(
                    (sa.or_(out.is_(None), nxt.is_(None)), sa.null()), (pick, out), else_=nxt
                )
        return out

    def cond(self, cond: Cond) -> Expr:
        if isinstance(cond, Leaf):
            return self._leaf(cond)
        if isinstance(cond, Not):
            return sa.not_(self.cond(cond.item))
        parts = [self.cond(c) for c in cond.items]
        return sa.and_(*parts) if isinstance(cond, All) else sa.or_(*parts)

    def _leaf(self, leaf: Leaf) -> Expr:
        col = self.col(leaf.field)
        op, value = leaf.op, leaf.value
        if op == "exists":
            return col.is_not(None)
        if op == "missing":
            return col.is_(None)
        cmp: Expr
        if op == "in":
            cmp = col.in_(list(value))
        elif op == "not_in":
            cmp = col.not_in(list(value))
        else:
            cmp = {
                "eq": col.__eq__,
                "ne": col.__ne__,
                "gt": col.__gt__,
                "gte": col.__ge__,
                "lt": col.__lt__,
                "lte": col.__le__,
            }[op](value)
        return sa.and_(col.is_not(None), cmp)

    def first_match(self, rules: tuple[Rule, ...], default: str) -> Expr:
        if not rules:
            return sa.literal(default)
        return sa.case(*[(self.cond(r.when), r.label) for r in rules], else_=default)


def _after_abc(rule: Rule) -> bool:
    return "abc_class" in fields_of(rule.when)


def _part_and_pre(bundle: Bundle, customers: sa.Table) -> tuple[Any, Any, dict[str, None], bool]:
    """The pre-ranking subquery (id, category, _metric, [_part], early tags/tier, late fields)."""
    base_c = _Compiler(bundle, customers.c)
    category = sa.case(
        (customers.c.category.is_not(None), customers.c.category),
        else_=base_c.first_match(bundle.category_rules, bundle.category_default),
    )
    rules = bundle.tags + bundle.tiers
    fields = dict.fromkeys(f for r in rules for f in fields_of(r.when))
    fields.pop("category", None)
    fields.pop("abc_class", None)
    cols = [
        customers.c.customer_id,
        category.label("category"),
        base_c.col(bundle.abc.metric).label("_metric"),
    ]
    part_by = bundle.abc.partition_by
    if part_by is not None and part_by != "category":
        cols.append(base_c.col(part_by).label("_part"))
    cols += [base_c.col(f).label(_label(f)) for f in fields]
    base = sa.select(*cols).subquery("seg_base")

    view = {f: base.c[_label(f)] for f in fields}
    view["category"] = base.c.category
    pre_c = _Compiler(bundle, view)
    late = [r for r in rules if _after_abc(r)]
    late_fields = dict.fromkeys(f for r in late for f in fields_of(r.when) if f in fields)
    tier_late = any(_after_abc(r) for r in bundle.tiers)
    pre_cols = [base.c.customer_id, base.c.category, base.c._metric]
    if part_by is not None and part_by != "category":
        pre_cols.append(base.c._part)
    pre_cols += [_flag(pre_c.cond(t.when)).label(f"tag_{t.id}") for t in bundle.tags
                 if not _after_abc(t)]  # fmt: skip
    if not tier_late:
        pre_cols.append(pre_c.first_match(bundle.tiers, bundle.tier_default).label("points_tier"))
    pre_cols += [view[f] for f in late_fields]
    return sa.select(*pre_cols).subquery("seg_pre"), base, late_fields, tier_late


def part_by_category(bundle: Bundle) -> bool:
    """Whether the ABC partition is the derived category column."""
    return bundle.abc.partition_by == "category"


def part_column(bundle: Bundle, sub: Any) -> Expr | None:
    """The ABC partition column of a pre-ranking subquery (None without partitions)."""
    part_by = bundle.abc.partition_by
    if part_by is None:
        return None
    col: Expr = sub.c.category if part_by == "category" else sub.c._part
    return col


def cut_case(bundle: Bundle, cuts: CutPoints, sub: Any) -> Expr:
    """ABC class by comparison with stored cut points: per class, the customers whose rank
    key (metric desc, unknown last, id asc) does not pass that class's boundary."""
    metric, cid = sub.c._metric, ByteOrder(sub.c.customer_id)
    part = part_column(bundle, sub)
    parts = sorted({p.partition for p in cuts.points})
    whens = []
    for cls, _ in bundle.abc.cuts:
        conds = []
        for pkey in parts:
            bound = cuts.boundaries(pkey).get(cls)
            if bound is None:
                continue
            unknown, neg, bid = bound
            if unknown:  # boundary among the unknown metrics: every known one, then by id
                within = sa.or_(metric.is_not(None), cid <= bid)
            else:
                value = sa.literal(-neg, sa.Float)
                within = sa.and_(
                    metric.is_not(None),
                    sa.or_(metric > value, sa.and_(metric == value, cid <= bid)),
                )
            if part is not None:
                pval = json.loads(pkey)
                within = sa.and_(part.is_(None) if pval is None else part == pval, within)
            conds.append(within)
        if conds:
            whens.append((sa.or_(*conds), cls))
    if not whens:
        return sa.literal(bundle.abc.rest)
    return sa.case(*whens, else_=bundle.abc.rest)


def population_select(
    bundle: Bundle, customers: sa.Table, cuts: CutPoints | None = None
) -> sa.Select[Any]:
    """customer_id, category, abc_class, tag_<id>... (booleans), points_tier for everyone.

    Tags and tiers that do not read ``abc_class`` are computed before the ranking, so the
    window sort carries a few small columns instead of every field the policy reads. With
    ``cuts`` (a population run's cut points) the class is a comparison per row instead of a
    window over the whole population, so a WHERE on the result selects only its own rows.
    """
    pre, _, late_fields, tier_late = _part_and_pre(bundle, customers)
    if cuts is not None:
        ranked = pre
        abc: Expr = cut_case(bundle, cuts, pre)
    else:
        part_col = part_column(bundle, pre)
        part = [part_col] if part_col is not None else None
        order = [pre.c._metric.is_(None), pre.c._metric.desc(), ByteOrder(pre.c.customer_id).asc()]
        rn = sa.func.row_number().over(partition_by=part, order_by=order)
        ranked = sa.select(pre, rn.label("_rn")).subquery("seg_ranked")
        if part is None:  # one partition: a plain count is cheaper than COUNT(*) OVER ()
            n: Any = sa.select(sa.func.count()).select_from(customers).scalar_subquery()
        else:
            n = sa.func.count().over(partition_by=[ranked.c.category if part_by_category(bundle)
                                                   else ranked.c._part])  # fmt: skip
            ranked = sa.select(ranked, n.label("_n")).subquery("seg_counted")
            n = ranked.c._n
        whens = []
        for cls, frac in bundle.abc.cuts:
            limit = (n * frac.numerator + (frac.denominator - 1)) // frac.denominator
            whens.append((ranked.c._rn <= limit, cls))
        abc = sa.case(*whens, else_=bundle.abc.rest)

    top_view: dict[str, Any] = {f: ranked.c[_label(f)] for f in late_fields}
    top_view.update(category=ranked.c.category, abc_class=abc)
    top = _Compiler(bundle, top_view)
    tag_cols = [
        (_flag(top.cond(t.when)) if _after_abc(t) else ranked.c[f"tag_{t.id}"]).label(f"tag_{t.id}")
        for t in bundle.tags
    ]
    tier = (top.first_match(bundle.tiers, bundle.tier_default) if tier_late
            else ranked.c.points_tier)  # fmt: skip
    return sa.select(
        ranked.c.customer_id,
        ranked.c.category,
        abc.label("abc_class"),
        *tag_cols,
        tier.label("points_tier"),
    )


def cut_points_select(bundle: Bundle, customers: sa.Table) -> sa.Select[Any]:
    """The boundary rows of a population: part, rn (1-based rank), n, metric, customer_id
    for each rank ceil(fraction x n) of each partition (one sort of the population)."""
    pre, _, _, _ = _part_and_pre(bundle, customers)
    part_col = part_column(bundle, pre)
    part = [part_col] if part_col is not None else None
    order = [pre.c._metric.is_(None), pre.c._metric.desc(), ByteOrder(pre.c.customer_id).asc()]
    ranked = sa.select(
        (part_col if part_col is not None else sa.null()).label("part"),
        pre.c._metric.label("metric"),
        pre.c.customer_id,
        sa.func.row_number().over(partition_by=part, order_by=order).label("rn"),
        sa.func.count().over(partition_by=part).label("n"),
    ).subquery("cut_ranked")
    ks = [
        (ranked.c.n * frac.numerator + (frac.denominator - 1)) // frac.denominator
        for _, frac in bundle.abc.cuts
    ]
    return sa.select(ranked).where(sa.or_(*[ranked.c.rn == k for k in ks]))


def _flag(cond: Expr) -> Expr:
    flag: Expr = sa.case((cond, sa.true()), else_=sa.false())
    return flag


def tags_of(bundle: Bundle, row: Any) -> tuple[str, ...]:
    """Sorted tag tuple from a result row's ``tag_<id>`` columns."""
    m = row._mapping
    return tuple(sorted(t for t in bundle.tag_names if m[f"tag_{t}"]))


def assignments(bundle: Bundle, rows: Iterable[Any]) -> Iterator[Assignment]:
    """Assignments from ``population_select`` rows; strategies resolved per combination."""
    columns = [(t, f"tag_{t}") for t in sorted(bundle.tag_names)]  # once, not per row
    for row in rows:
        m = row._mapping
        tags = tuple(t for t, col in columns if m[col])
        actions, processes = resolve_strategy(
            bundle, row.category, row.abc_class, tags, row.points_tier
        )
        yield Assignment(
            row.customer_id,
            row.category,
            row.abc_class,
            tags,
            row.points_tier,
            actions,
            processes,
            bundle.version,
        )
