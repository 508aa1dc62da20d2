"""Small helpers shared by the route modules."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from devstack.stripe import objects
from devstack.stripe.context import Emulator, emulator, params
from devstack.stripe.errors import StripeError
from devstack.stripe.listing import paginate
from devstack.stripe.middleware import json_response
from devstack.stripe.params import Params
from devstack.stripe.store import Obj

__all__ = ["Emulator", "Params", "emulator", "params", "path_id", "respond", "respond_list"]


def path_id(request: web.Request, name: str = "id") -> str:
    return request.match_info[name]


def respond(
    request: web.Request, kind: str, obj: Obj, extra: dict[str, Any] | None = None
) -> web.Response:
    emu = emulator(request)
    out = objects.render(emu.store, kind, obj)
    if extra:
        out.update(extra)
    objects.expand(emu.store, out, params(request).expand(), obj)
    return json_response(out)


def respond_list(request: web.Request, kind: str, items: list[Obj], url: str) -> web.Response:
    emu = emulator(request)
    p = params(request)
    page = paginate(p, items, url, lambda o: objects.render(emu.store, kind, o))
    objects.expand(emu.store, page, p.expand())
    return json_response(page)


def deleted(object_id: str, kind: str) -> web.Response:
    return json_response({"id": object_id, "object": kind, "deleted": True})


def require_str(p: Params, key: str) -> str:
    return p.req(key)


def bad(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    return StripeError(message, param=param, code=code)
