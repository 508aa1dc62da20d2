"""Request parsing and response shapes shared by the API handlers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from aiohttp import web
from yarl import URL

from devstack.hetzner.emulator import Emulator
from devstack.hetzner.errors import HetznerError, invalid_input

EMULATOR = web.AppKey("emulator", Emulator)
MAX_PER_PAGE = 50

T = TypeVar("T")


def emulator(request: web.Request) -> Emulator:
    return request.app[EMULATOR]


async def body(request: web.Request) -> dict[str, Any]:
    """The JSON object of a request; an empty body counts as ``{}``."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise HetznerError("json_error", f"invalid JSON in request body: {exc}") from None
    if not isinstance(data, dict):
        raise HetznerError("json_error", "request body must be a JSON object")
    return data


def path_id(request: web.Request, name: str = "id") -> int:
    raw = request.match_info[name]
    if not raw.isdigit():
        raise invalid_input({name: "must be an integer"}, f"invalid {name} '{raw}'")
    return int(raw)


def field(data: dict[str, Any], name: str, kind: type[T], *, required: bool = False,
          default: T | None = None) -> T | None:  # fmt: skip
    """One typed field of a request body, or ``invalid_input`` naming it."""
    if name not in data or data[name] is None:
        if required:
            raise invalid_input({name: "Missing data for required field."})
        return default
    value = data[name]
    if kind is int and isinstance(value, bool):
        raise invalid_input({name: "Not a valid integer."})
    if not isinstance(value, kind):
        raise invalid_input({name: f"Not a valid {kind.__name__}."})
    return value


def id_or_name(value: Any, name: str) -> str:
    """A reference the spec calls "ID or name": an integer ID or a string, as text.

    Hetzner's own clients (hcloud-go, the CLI) send integers when they hold an ID, so the
    API takes both although the spec types the field as a string; ``True`` is no ID.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise invalid_input({name: "Not a valid ID or name."})
    return str(value)


def ref_field(data: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    """One "ID or name" field of a request body (see :func:`id_or_name`)."""
    if name not in data or data[name] is None:
        if required:
            raise invalid_input({name: "Missing data for required field."})
        return None
    return id_or_name(data[name], name)


def ok(payload: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
       ) -> web.Response:  # fmt: skip
    return web.json_response(payload, status=status, headers=headers)


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise invalid_input({name: "must be a positive integer"})
    return int(raw)


def paginate(request: web.Request, items: Sequence[T]) -> tuple[list[T], dict[str, Any],
                                                                 dict[str, str]]:  # fmt: skip
    """One page of ``items``, its ``meta.pagination`` and the ``Link`` header, as the API."""
    page = _int_param(request, "page", 1)
    per_page = min(_int_param(request, "per_page", 25), MAX_PER_PAGE)
    total = len(items)
    last = max(1, -(-total // per_page))
    chunk = list(items[(page - 1) * per_page : page * per_page])
    pagination = {
        "page": page,
        "per_page": per_page,
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if page < last else None,
        "last_page": last,
        "total_entries": total,
    }
    links = []
    url = URL(str(request.url))
    for rel, target in (("prev", pagination["previous_page"]), ("next", pagination["next_page"]),
                        ("last", last)):  # fmt: skip
        if target is not None:
            links.append(f'<{url.update_query(page=target, per_page=per_page)}>; rel="{rel}"')
    return chunk, {"pagination": pagination}, {"Link": ", ".join(links)} if links else {}


def sort_items(request: web.Request, items: list[T], allowed: set[str]) -> list[T]:
    """Applies the ``sort`` parameters (``field`` or ``field:asc|desc``), last one first."""
    for spec in reversed(request.query.getall("sort", [])):
        key, _, direction = spec.partition(":")
        if key not in allowed or direction not in ("", "asc", "desc"):
            raise invalid_input({"sort": f"invalid sort '{spec}'"})
        items = sorted(items, key=lambda item: getattr(item, key), reverse=direction == "desc")
    return items
