"""The `customers` table shape of the record contract (issue 3) in SQLAlchemy Core.

The store owns the real table; this twin lets the rules tests and the benchmark run the SQL
back end without importing the store (rules imports nothing of the project).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from rules.record import RECORD_FIELDS

_NULLABLE_NUMBERS = {"voltage_kv", "capacity_kva", "annual_kwh", "annual_revenue"}


def customers_table(metadata: sa.MetaData, table_name: str = "customers") -> sa.Table:
    cols: list[sa.Column[Any]] = [sa.Column("customer_id", sa.String(64), primary_key=True)]
    for name, kind in RECORD_FIELDS.items():
        if name == "customer_id":
            continue
        if kind == "str":
            cols.append(sa.Column(name, sa.String(200), nullable=True))
        elif kind == "int":
            cols.append(sa.Column(name, sa.Integer, nullable=False, server_default="0"))
        elif kind == "number":
            nullable = name in _NULLABLE_NUMBERS
            cols.append(
                sa.Column(
                    name, sa.Float, nullable=nullable, server_default=None if nullable else "0"
                )
            )
        elif kind == "bool":
            cols.append(sa.Column(name, sa.Boolean, nullable=False, server_default=sa.false()))
        elif kind == "optional_bool":
            cols.append(sa.Column(name, sa.Boolean, nullable=True))
        else:
            cols.append(sa.Column(name, sa.JSON, nullable=True))
    cols.append(sa.Column("status", sa.String(16), nullable=False, server_default="active"))
    return sa.Table(table_name, metadata, *cols)


def row_for(record: dict[str, Any]) -> dict[str, Any]:
    """An insertable row for a validated record: every column, None where absent."""
    return {name: record.get(name) for name in RECORD_FIELDS}
