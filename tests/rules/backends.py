"""Run one population through every back end (reference, durable Engine, numpy, SQL)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

import rules
from rules import reference
from rules.sql import assignments, population_select
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


def all_backends(
    bundle: rules.Bundle, engine: rules.Engine, recs: list[dict[str, Any]]
) -> dict[str, dict[str, rules.Assignment]]:
    return {
        "reference": by_reference(bundle, recs),
        "durable": by_engine(bundle, engine, recs),
        "numpy": by_numpy(bundle, recs),
        "sql": by_sql(bundle, recs),
    }
