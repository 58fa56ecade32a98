"""Bulk back end in the database: conditions compiled to SQLAlchemy Core expressions.

``population_select`` yields one row per customer with category, ABC class (ROW_NUMBER and
COUNT window functions), one boolean column per tag (``tag_<id>``) and the points tier; it
runs on SQLite and PostgreSQL. Every leaf is guarded with IS NOT NULL so results are
two-valued (a condition on an unknown value is false, and NOT of it is true), exactly as the
reference evaluator. Ties order by customer_id in byte order (COLLATE "C" on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from rules.abc import cut_counts
from rules.assignment import Assignment, resolve_strategy
from rules.conditions import All, Cond, Leaf, Not, fields_of
from rules.model import Bundle, Rule

Expr = ColumnElement[Any]


class ByteOrder(ColumnElement[Any]):
    """A column ordered by bytes: COLLATE "C" on PostgreSQL, as is elsewhere (SQLite binary)."""

    inherit_cache = True
    _traverse_internals = [("col", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, col: Expr) -> None:
        self.col = col
        self.type = col.type


@compiles(ByteOrder)
def _byte_order(element: ByteOrder, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.col, **kw)


@compiles(ByteOrder, "postgresql")
def _byte_order_pg(element: ByteOrder, compiler: SQLCompiler, **kw: Any) -> str:
    return f'{compiler.process(element.col, **kw)} COLLATE "C"'


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
            extracted: Expr = conv()
            return extracted
        raise KeyError(name)

    def _operand(self, arg: str | float | int) -> Expr:
        return self.col(arg) if isinstance(arg, str) else sa.literal(arg)

    def _derived(self, name: str) -> Expr:
        d = self.derived[name]
        ops = [self._operand(a) for a in d.args]
        if d.func == "ratio":
            den = ops[1]
            return sa.case((den == 0, sa.null()), else_=sa.cast(ops[0], sa.Float) / den)
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


def population_select(bundle: Bundle, customers: sa.Table) -> sa.Select[Any]:
    """customer_id, category, abc_class, tag_<id>... (booleans), points_tier for everyone."""
    base_c = _Compiler(bundle, customers.c)
    category = sa.case(
        (customers.c.category.is_not(None), customers.c.category),
        else_=base_c.first_match(bundle.category_rules, bundle.category_default),
    )
    needed = dict.fromkeys(f for r in bundle.tags + bundle.tiers for f in fields_of(r.when))
    needed.pop("category", None)
    needed.pop("abc_class", None)
    cols = [
        customers.c.customer_id,
        category.label("category"),
        base_c.col(bundle.abc.metric).label("_metric"),
    ]
    part_by = bundle.abc.partition_by
    if part_by is not None and part_by != "category":
        cols.append(base_c.col(part_by).label("_part"))
    cols += [base_c.col(f).label(_label(f)) for f in needed]
    base = sa.select(*cols).subquery("seg_base")
    part = [base.c.category if part_by == "category" else base.c._part] if part_by else None
    order = [base.c._metric.is_(None), base.c._metric.desc(), ByteOrder(base.c.customer_id).asc()]
    rn = sa.func.row_number().over(partition_by=part, order_by=order)
    n = sa.func.count().over(partition_by=part)
    ranked = sa.select(base, rn.label("_rn"), n.label("_n")).subquery("seg_ranked")
    whens = []
    for cls, frac in bundle.abc.cuts:
        limit = (ranked.c._n * frac.numerator + (frac.denominator - 1)) // frac.denominator
        whens.append((ranked.c._rn <= limit, cls))
    abc = sa.case(*whens, else_=bundle.abc.rest)
    classed = sa.select(ranked, abc.label("abc_class")).subquery("seg_classed")

    view = {f: classed.c[_label(f)] for f in needed}
    view.update(category=classed.c.category, abc_class=classed.c.abc_class)
    top = _Compiler(bundle, view)
    tag_cols = [
        sa.case((top.cond(t.when), sa.true()), else_=sa.false()).label(f"tag_{t.id}")
        for t in bundle.tags
    ]
    tier = top.first_match(bundle.tiers, bundle.tier_default)
    return sa.select(
        classed.c.customer_id,
        classed.c.category,
        classed.c.abc_class,
        *tag_cols,
        tier.label("points_tier"),
    )


def tags_of(bundle: Bundle, row: Any) -> tuple[str, ...]:
    """Sorted tag tuple from a result row's ``tag_<id>`` columns."""
    m = row._mapping
    return tuple(sorted(t for t in bundle.tag_names if m[f"tag_{t}"]))


def assignments(bundle: Bundle, rows: Iterable[Any]) -> Iterator[Assignment]:
    """Assignments from ``population_select`` rows; strategies resolved per combination."""
    for row in rows:
        tags = tags_of(bundle, row)
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


__all__ = ["ByteOrder", "assignments", "cut_counts", "population_select", "tags_of"]
