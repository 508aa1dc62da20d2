"""Stripe-style lists: `limit` and `starting_after` in, `{object, data, has_more, url}` out.

Every list route takes `PageDep` and answers `Page[ItemView]`. `limit` defaults to 20
and is at most 100 (Stripe's numbers: a page a person reads, a bound a program can rely
on); `starting_after` is the id of the last object of the previous page, and the next
page is asked for while `has_more` is true. An unknown `starting_after` is a 404, as
Stripe answers for an id it does not have; the repository reads pages by keyset
(`db.repo.pagination`), so pages stay exact while objects come and go.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Annotated, Generic, Literal, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field

from api.errors import ApiError
from db.repo.pagination import UnknownCursor

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

Item = TypeVar("Item", bound=BaseModel)
Rows = TypeVar("Rows")


class Page(BaseModel, Generic[Item]):
    """One page of a list, newest or first in the list's order."""

    object: Literal["list"] = "list"
    data: list[Item]
    has_more: bool = Field(description="whether a page follows: ask with starting_after")
    url: str = Field(description="the list's path, to ask for the next page")


@dataclass(frozen=True)
class PageParams:
    limit: int
    starting_after: uuid.UUID | None
    url: str

    def page(self, data: list[Item], has_more: bool) -> Page[Item]:
        return Page[Item](data=data, has_more=has_more, url=self.url)

    async def fetch(self, rows: Awaitable[Rows]) -> Rows:
        """Awaits a repository page read, answering 404 for an unknown cursor."""
        try:
            return await rows
        except UnknownCursor:
            raise ApiError(
                404,
                "not_found",
                "starting_after names no object in this list",
                {"field": "starting_after"},
            ) from None


async def page_params(
    request: Request,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"page size, {DEFAULT_LIMIT} by default")
    ] = DEFAULT_LIMIT,
    starting_after: Annotated[
        uuid.UUID | None, Query(description="the id of the last object of the previous page")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, starting_after=starting_after, url=request.url.path)


PageDep = Annotated[PageParams, Depends(page_params)]
