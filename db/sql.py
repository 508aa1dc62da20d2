"""SQL for pages of thousands of rows: one array parameter per column, never one per value.

PostgreSQL takes at most 65,535 parameters a statement, and psycopg parses a statement
with thousands of placeholders anew each time (the text differs with the count), so an
`IN (...)` list or a multi-row `VALUES` is both limited and slow by the thousand.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, FromClause, Select, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import QueryableAttribute

T = TypeVar("T")


def one_of(
    column: ColumnElement[T] | QueryableAttribute[T], values: list[T]
) -> ColumnElement[bool]:
    """`column = ANY(:values)`: one array parameter (of the column's type) however many."""
    return column == any_(bindparam(None, values, type_=ARRAY(column.type)))


def unnest_rows(table: FromClause, columns: dict[str, list[Any]]) -> Select[Any]:
    """Rows given column by column (equal-length lists) as a SELECT for `INSERT ... SELECT`.

    Each column is sent as one array and unnested, so a page of thousands of rows is one
    statement with one parameter per column. `WITH ORDINALITY` keeps the rows in list
    order, so identity ids follow it.
    """
    names = list(columns)
    arrays = [
        bindparam(name, values, type_=ARRAY(table.c[name].type)) for name, values in columns.items()
    ]
    unnested = func.unnest(*arrays).table_valued(*names, with_ordinality="ordinal").render_derived()
    return select(*(unnested.c[name] for name in names)).order_by(unnested.c.ordinal)
