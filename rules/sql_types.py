"""Custom SQL expressions of the bulk back end that compile differently per dialect.

``ByteOrder`` orders customer ids by bytes everywhere (COLLATE "C" on PostgreSQL);
``JsonValueIs`` tests the JSON kind of an attribute without casting it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

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


class JsonValueIs(ColumnElement[bool]):
    """True when ``col -> key`` holds a JSON value of one kind (number, str or bool).

    An attribute of the wrong type is unknown, never cast (CAST('abc' AS FLOAT) fails on
    PostgreSQL, and SQLite would compare text with numbers).
    """

    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012
        ("col", InternalTraversal.dp_clauseelement),
        ("key", InternalTraversal.dp_string),
        ("kind", InternalTraversal.dp_string),
    ]
    type = sa.Boolean()

    def __init__(self, col: Expr, key: str, kind: str) -> None:
        self.col, self.key, self.kind = col, key, kind


_SQLITE_JSON_TYPES = {"number": "('integer', 'real')", "bool": "('true', 'false')",
                      "str": "('text')"}  # fmt: skip
_PG_JSON_TYPES = {"number": "'number'", "bool": "'boolean'", "str": "'string'"}


@compiles(JsonValueIs)
def _json_is_sqlite(element: JsonValueIs, compiler: SQLCompiler, **kw: Any) -> str:
    path = compiler.process(sa.literal(f'$."{element.key}"'), **kw)
    col = compiler.process(element.col, **kw)
    return f"json_type({col}, {path}) IN {_SQLITE_JSON_TYPES[element.kind]}"


@compiles(JsonValueIs, "postgresql")
def _json_is_pg(element: JsonValueIs, compiler: SQLCompiler, **kw: Any) -> str:
    func = "jsonb_typeof" if "JSONB" in type(element.col.type).__name__.upper() else "json_typeof"
    key = compiler.process(sa.literal(element.key), **kw)
    col = compiler.process(element.col, **kw)
    return f"{func}({col} -> {key}) = {_PG_JSON_TYPES[element.kind]}"
