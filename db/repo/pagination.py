"""Keyset pagination: one page of a query after a cursor object, exact under inserts.

A page is asked for with the id of the last object seen (`after`), never an offset: an
offset shifts when rows are added or removed between two requests, so an object would
be shown twice or skipped. The cursor object's own sort key is read first, then the page
is the rows strictly beyond it in `(key..., id)` order. The id closes every order, so no
two rows tie and the cursor is exact.

One row more than `limit` is read to tell whether another page follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Row, Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

Ts = TypeVarTuple("Ts")
Key = ColumnElement[Any] | InstrumentedAttribute[Any]


class UnknownCursor(LookupError):
    """`after` names no object the caller may list (absent, or another account's)."""


async def keyset_page(
    session: AsyncSession,
    query: Select[*Ts],
    *,
    keys: Sequence[Key],
    cursor: Select[*tuple[Any, ...]] | None,
    limit: int,
    descending: bool,
) -> tuple[list[Row[*Ts]], bool]:
    """The first `limit` rows of `query` ordered by `keys` (the last key unique), beyond
    the row that `cursor` selects (its `keys`, one row), and whether more follow.

    `cursor` is scoped by the caller (e.g. to the account), so an id from elsewhere is
    an `UnknownCursor`, not a way to probe another account's rows.
    """
    if cursor is not None:
        values = (await session.execute(cursor.limit(1))).first()
        if values is None:
            raise UnknownCursor
        beyond = tuple_(*keys) < tuple_(*values) if descending else tuple_(*keys) > tuple_(*values)
        query = query.where(beyond)
    order = [key.desc() for key in keys] if descending else list(keys)
    rows = list((await session.execute(query.order_by(*order).limit(limit + 1))).all())
    return rows[:limit], len(rows) > limit
