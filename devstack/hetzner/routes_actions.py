"""Action lookups: global, per resource type, and per server."""

from __future__ import annotations

from aiohttp import web

from devstack.faults import operation
from devstack.hetzner.actions import Action
from devstack.hetzner.errors import invalid_input, not_found
from devstack.hetzner.web import emulator, ok, paginate, path_id

routes = web.RouteTableDef()
_STATUSES = ("running", "success", "error")


def _listed(request: web.Request, actions: list[Action]) -> web.Response:
    if ids := request.query.getall("id", []):
        if not all(i.isdigit() for i in ids):
            raise invalid_input({"id": "must be an integer"})
        wanted = {int(i) for i in ids}
        actions = [a for a in actions if a.id in wanted]
    if statuses := request.query.getall("status", []):
        if any(s not in _STATUSES for s in statuses):
            raise invalid_input({"status": "invalid status"})
        actions = [a for a in actions if a.status in statuses]
    for spec in reversed(request.query.getall("sort", [])):
        key, _, direction = spec.partition(":")
        if key not in ("id", "command", "status", "started", "finished", "progress"):
            raise invalid_input({"sort": f"invalid sort '{spec}'"})
        actions = sorted(actions, key=lambda a: str(getattr(a, key)) if key != "id" else a.id,
                         reverse=direction == "desc")  # fmt: skip
    page, meta, headers = paginate(request, actions)
    return ok({"actions": [a.render() for a in page], "meta": meta}, headers=headers)


def _all(request: web.Request) -> list[Action]:
    return sorted(emulator(request).runner.actions.values(), key=lambda a: a.id)


@routes.get("/v1/actions")
@operation("actions.list")
async def list_actions(request: web.Request) -> web.Response:
    return _listed(request, _all(request))


@routes.get("/v1/actions/{id}")
@operation("actions.get")
async def get_action(request: web.Request) -> web.Response:
    return ok({"action": emulator(request).action(path_id(request)).render()})


@routes.get("/v1/servers/actions")
@operation("servers.actions.list")
async def list_server_actions(request: web.Request) -> web.Response:
    return _listed(request, [a for a in _all(request) if a.server_ids()])


@routes.get("/v1/servers/actions/{id}")
@operation("servers.actions.get")
async def get_server_action(request: web.Request) -> web.Response:
    action = emulator(request).action(path_id(request))
    if not action.server_ids():
        raise not_found(f"action with ID '{action.id}'")
    return ok({"action": action.render()})


@routes.get("/v1/servers/{id}/actions")
@operation("servers.actions.list_for_server")
async def list_actions_for_server(request: web.Request) -> web.Response:
    server = emulator(request).server(path_id(request))
    return _listed(request, [a for a in _all(request) if server.id in a.server_ids()])


@routes.get("/v1/servers/{id}/actions/{action_id}")
@operation("servers.actions.get_for_server")
async def get_action_for_server(request: web.Request) -> web.Response:
    emu = emulator(request)
    server = emu.server(path_id(request))
    action = emu.action(path_id(request, "action_id"))
    if server.id not in action.server_ids():
        raise not_found(f"action with ID '{action.id}'")
    return ok({"action": action.render()})
