"""Run one population through every back end (reference, durable Engine, numpy, SQL)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

import rules
from rules import reference
from rules.abc import CutPoints, points_from_rows
from rules.sql import assignments, cut_points_select, population_select
from rules.sql_table import customers_table, row_for


def by_reference(bundle: rules.Bundle, recs: list[dict[str, Any]]) -> dict[str, rules.Assignment]:
    return {a.customer_id: a for a in reference.segment_population(bundle, recs)}


def by_engine(
    bundle: rules.Bundle, engine: rules.Engine, recs: list[dict[str, Any]]
) -> dict[str, rules.Assignment]:
    classes = reference.abc_classes(bundle, recs)
    return {r["customer_id"]: engine.assign(r, classes[r["customer_id"]][0]) for r in recs}


def by_numpy(bundle: rules.Bundle, recs: list[dict[str, Any]]) -> dict[str, rules.Assignment]:
    return {a.customer_id: a for a in rules.segment_population(bundle, recs)}


def by_sql(bundle: rules.Bundle, recs: list[dict[str, Any]]) -> dict[str, rules.Assignment]:
    metadata = sa.MetaData()
    table = customers_table(metadata)
    db = sa.create_engine("sqlite://")
    metadata.create_all(db)
    with db.begin() as conn:
        if recs:
            conn.execute(table.insert(), [row_for(r) for r in recs])
        rows = list(conn.execute(population_select(bundle, table)))
    db.dispose()
    return {a.customer_id: a for a in assignments(bundle, rows)}


def by_cut_points(
    bundle: rules.Bundle, engine: rules.Engine, recs: list[dict[str, Any]]
) -> dict[str, dict[str, rules.Assignment]]:
    """Cut points from the SQL plan step, then every customer classified against them: one
    at a time (durable), vectorised (numpy) and in SQL (a CASE, no window)."""
    metadata = sa.MetaData()
    table = customers_table(metadata)
    db = sa.create_engine("sqlite://")
    metadata.create_all(db)
    with db.begin() as conn:
        if recs:
            conn.execute(table.insert(), [row_for(r) for r in recs])
        bounds = [row._mapping for row in conn.execute(cut_points_select(bundle, table))]
        cuts = CutPoints(bundle.abc, points_from_rows(bundle.abc, bounds))
        assert cuts.points == reference.abc_cut_points(bundle, recs).points
        rows = list(conn.execute(population_select(bundle, table, cuts)))
    db.dispose()
    one = {}
    for r in recs:
        part = reference.abc_partition_of(bundle, r)
        cls = cuts.classify(part, reference.abc_metric_of(bundle, r), r["customer_id"])
        one[r["customer_id"]] = engine.assign(r, cls)
    return {
        "cuts-durable": one,
        "cuts-numpy": {
            a.customer_id: a
            for a in rules.segment_population(bundle, recs, validated=True, cuts=cuts)
        },
        "cuts-sql": {a.customer_id: a for a in assignments(bundle, rows)},
    }


def all_backends(
    bundle: rules.Bundle, engine: rules.Engine, recs: list[dict[str, Any]]
) -> dict[str, dict[str, rules.Assignment]]:
    return {
        "reference": by_reference(bundle, recs),
        "durable": by_engine(bundle, engine, recs),
        "numpy": by_numpy(bundle, recs),
        "sql": by_sql(bundle, recs),
        **by_cut_points(bundle, engine, recs),
    }
