"""List objects: newest first, ``limit`` / ``starting_after`` / ``ending_before`` cursors.

Stripe orders lists by creation, newest first, and the cursors are object ids; an id that
is not in the (filtered) list is a 400 like Stripe's, not an empty page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from devstack.stripe.errors import StripeError
from devstack.stripe.params import Params
from devstack.stripe.store import Obj

Render = Callable[[Obj], Obj]


def created_filter(p: Params, key: str = "created") -> Callable[[int], bool]:
    """``created=123`` or ``created[gte]=..&created[lt]=..`` as a predicate."""
    raw = p.raw(key)
    if raw is None:
        return lambda _: True
    if isinstance(raw, str):
        exact = p.int(key)
        return lambda t: t == exact
    sub = Params(raw, key)
    bounds = {op: sub.int(op) for op in ("gt", "gte", "lt", "lte")}

    def check(t: int) -> bool:
        gt, gte, lt, lte = bounds["gt"], bounds["gte"], bounds["lt"], bounds["lte"]
        return (
            (gt is None or t > gt)
            and (gte is None or t >= gte)
            and (lt is None or t < lt)
            and (lte is None or t <= lte)
        )

    return check


def paginate(
    p: Params,
    objects: Iterable[Obj],
    url: str,
    render: Render,
    *,
    order: Callable[[Obj], Any] | None = None,
) -> dict[str, Any]:
    limit = p.int("limit", 10)
    assert limit is not None
    if not 1 <= limit <= 100:
        raise StripeError("Invalid integer: limit must be between 1 and 100", param="limit")
    key = order or (lambda o: (o.get("created", 0), o.get("_seq", 0)))
    ordered = sorted(objects, key=key, reverse=True)
    ids = [o["id"] for o in ordered]
    after, before = p.str("starting_after"), p.str("ending_before")
    if after and before:
        raise StripeError(
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="starting_after",
        )
    if after:
        if after not in ids:
            raise StripeError(f"Invalid starting_after id: {after}", param="starting_after")
        start = ids.index(after) + 1
        page = ordered[start : start + limit]
        has_more = start + limit < len(ordered)
    elif before:
        if before not in ids:
            raise StripeError(f"Invalid ending_before id: {before}", param="ending_before")
        end = ids.index(before)
        page = ordered[max(0, end - limit) : end]
        has_more = end - limit > 0
    else:
        page = ordered[:limit]
        has_more = len(ordered) > limit
    return {
        "object": "list",
        "data": [render(o) for o in page],
        "has_more": has_more,
        "url": url,
    }
