"""The SQL back end on a real PostgreSQL (collation, integer division, booleans, JSON paths
differ from SQLite) gives the reference evaluator's segments customer by customer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings

import rules
from rules import reference
from rules.abc import CutPoints, points_from_rows
from rules.sql import assignments, cut_points_select, population_select
from rules.sql_table import customers_table, row_for
from tests.rules.test_conformance import _variant_texts, population

pytestmark = pytest.mark.postgres

TABLE = "rules_conformance_customers"  # not the store's table: the database is shared


@pytest.fixture(scope="module")
def pg(postgres_url: str) -> Iterator[tuple[sa.Engine, sa.Table]]:
    engine = sa.create_engine(postgres_url)
    metadata = sa.MetaData()
    table = customers_table(metadata, TABLE)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    yield engine, table
    metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def variant_bundle() -> rules.Bundle:
    return rules.load_bundle_from_texts(_variant_texts())


def _check(
    pg: tuple[sa.Engine, sa.Table], bundle: rules.Bundle, recs: list[dict[str, Any]]
) -> None:
    engine, table = pg
    with engine.begin() as conn:
        conn.execute(table.delete())
        if recs:
            conn.execute(table.insert(), [row_for(r) for r in recs])
        got = {
            a.customer_id: a
            for a in assignments(bundle, conn.execute(population_select(bundle, table)))
        }
        # the plan step's boundary rows and the cut-point CASE give the same classes
        bounds = [dict(r._mapping) for r in conn.execute(cut_points_select(bundle, table))]
        cuts = CutPoints(bundle.abc, points_from_rows(bundle.abc, bounds))
        by_cuts = {
            a.customer_id: a
            for a in assignments(bundle, conn.execute(population_select(bundle, table, cuts)))
        }
    expected = {a.customer_id: a for a in reference.segment_population(bundle, recs)}
    assert got == expected
    assert cuts.points == reference.abc_cut_points(bundle, recs).points
    assert by_cuts == expected


PG = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PG
@given(population())
def test_postgres_shipped_policies(
    pg: tuple[sa.Engine, sa.Table], bundle: rules.Bundle, recs: list[dict[str, Any]]
) -> None:
    _check(pg, bundle, recs)


@PG
@given(population())
def test_postgres_every_operator(
    pg: tuple[sa.Engine, sa.Table], variant_bundle: rules.Bundle, recs: list[dict[str, Any]]
) -> None:
    _check(pg, variant_bundle, recs)


def test_postgres_byte_order_ties(pg: tuple[sa.Engine, sa.Table], bundle: rules.Bundle) -> None:
    # a locale collation would put "a1" before "B1"; byte order puts uppercase first
    ids = ["a1", "B1", "_x", "-y", *(f"z{i:02d}" for i in range(16))]
    recs = [rules.validate_record({"customer_id": cid, "annual_revenue": 1.0}) for cid in ids]
    _check(pg, bundle, recs)
