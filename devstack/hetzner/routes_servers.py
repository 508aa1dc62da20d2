"""``/servers`` and its actions: the part of the API the product provisions with."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from devstack.faults import operation
from devstack.hetzner import catalog
from devstack.hetzner.errors import HetznerError, invalid_input
from devstack.hetzner.labels import parse_selector, validate_labels
from devstack.hetzner.models import SERVER_STATUSES, Server
from devstack.hetzner.web import (
    body,
    emulator,
    field,
    id_or_name,
    ok,
    paginate,
    path_id,
    ref_field,
    sort_items,
)

routes = web.RouteTableDef()

_LABEL = r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
USER_DATA_LIMIT = 32 * 1024


def _server_name(value: str | None) -> str:
    if value is None or not _HOSTNAME_RE.match(value):
        raise invalid_input({"name": "Name must be a valid hostname."})
    return value


def _filtered(request: web.Request, servers: list[Server]) -> list[Server]:
    if (name := request.query.get("name")) is not None:
        servers = [s for s in servers if s.name == name]
    if (selector := request.query.get("label_selector")) is not None:
        matches = parse_selector(selector)
        servers = [s for s in servers if matches(s.labels)]
    if statuses := request.query.getall("status", []):
        if bad := [s for s in statuses if s not in SERVER_STATUSES]:
            raise invalid_input({"status": f"invalid status '{bad[0]}'"})
        servers = [s for s in servers if s.status in statuses]
    return sort_items(request, servers, {"id", "name", "created"})


@routes.get("/v1/servers")
@operation("servers.list")
async def list_servers(request: web.Request) -> web.Response:
    servers = _filtered(request, sorted(emulator(request).servers.values(), key=lambda s: s.id))
    page, meta, headers = paginate(request, servers)
    return ok({"servers": [s.render() for s in page], "meta": meta}, headers=headers)


def _ssh_key_ids(request: web.Request, refs: Any) -> list[int]:
    if not isinstance(refs, list):
        raise invalid_input({"ssh_keys": "Not a valid list."})
    ids = []
    for item in refs:
        ref = id_or_name(item, "ssh_keys")
        key = emulator(request).find_ssh_key(ref)
        if key is None:
            raise invalid_input({"ssh_keys": f"SSH key '{ref}' not found"})
        ids.append(key.id)
    return ids


def _placement(data: dict[str, Any]) -> str:
    loc_ref, dc_ref = ref_field(data, "location"), ref_field(data, "datacenter")
    if loc_ref is not None and dc_ref is not None:
        raise invalid_input(
            {"location": "must not be used together with datacenter"},
            "location and datacenter are mutually exclusive",
        )
    if loc_ref is not None:
        loc = catalog.find_location(loc_ref)
        if loc is None:
            raise invalid_input({"location": f"location '{loc_ref}' not found"})
        return loc.name
    if dc_ref is not None:
        loc = catalog.find_datacenter(dc_ref)
        if loc is None:
            raise invalid_input({"datacenter": f"datacenter '{dc_ref}' not found"})
        return loc.name
    return catalog.DEFAULT_LOCATION.name


@routes.post("/v1/servers")
@operation("servers.create")
async def create_server(request: web.Request) -> web.Response:
    data = await body(request)
    name = _server_name(field(data, "name", str, required=True))
    type_ref = ref_field(data, "server_type", required=True)
    image_ref = ref_field(data, "image", required=True)
    assert type_ref is not None and image_ref is not None
    server_type = catalog.find_server_type(type_ref)
    if server_type is None:
        raise invalid_input({"server_type": f"server type '{type_ref}' not found"})
    image = catalog.find_image(image_ref)
    if image is None:
        raise invalid_input({"image": f"image '{image_ref}' not found"})
    location = _placement(data)
    if not server_type.available_in(location):
        # The real API's words (see catalog's docstring); no field details come with it.
        raise HetznerError("invalid_input", "unsupported location for server type")
    user_data = field(data, "user_data", str)
    if user_data is not None and len(user_data.encode()) > USER_DATA_LIMIT:
        raise invalid_input({"user_data": "user_data must not exceed 32 KiB"})
    labels = validate_labels(data.get("labels") or {})
    ssh_keys = _ssh_key_ids(request, data.get("ssh_keys") or [])
    start = field(data, "start_after_create", bool, default=True)
    public_net = field(data, "public_net", dict, default={}) or {}
    server, action, next_actions, password = emulator(request).create_server(
        name=name,
        server_type=server_type.name,
        image=image.name,
        location=location,
        labels=labels,
        user_data=user_data,
        ssh_keys=ssh_keys,
        start=bool(start),
        enable_ipv4=bool(public_net.get("enable_ipv4", True)),
        enable_ipv6=bool(public_net.get("enable_ipv6", True)),
    )
    return ok(
        {
            "server": server.render(),
            "action": action.render(),
            "next_actions": [a.render() for a in next_actions],
            "root_password": password,
        },
        status=201,
    )


@routes.get("/v1/servers/{id}")
@operation("servers.get")
async def get_server(request: web.Request) -> web.Response:
    return ok({"server": emulator(request).server(path_id(request)).render()})


@routes.put("/v1/servers/{id}")
@operation("servers.update")
async def update_server(request: web.Request) -> web.Response:
    emu = emulator(request)
    server = emu.server(path_id(request))
    data = await body(request)
    name = field(data, "name", str)
    labels = validate_labels(data["labels"]) if data.get("labels") is not None else None
    emu.update_server(server, name=_server_name(name) if name is not None else None, labels=labels)
    return ok({"server": server.render()})


@routes.delete("/v1/servers/{id}")
@operation("servers.delete")
async def delete_server(request: web.Request) -> web.Response:
    emu = emulator(request)
    action = await emu.delete_server(emu.server(path_id(request)))
    return ok({"action": action.render()})


def _server_action(name: str, op: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        emu = emulator(request)
        server = emu.server(path_id(request))
        if name == "poweron":
            action = emu.power_on(server)
        elif name in ("poweroff", "shutdown"):
            action = emu.power_off(server, graceful=name == "shutdown")
        else:
            action = emu.restart(server, command=f"{name}_server")
        return ok({"action": action.render()}, status=201)

    handler.__name__ = f"server_{name}"
    return operation(op)(handler)


for _name, _op in (("poweron", "servers.poweron"), ("poweroff", "servers.poweroff"),
                   ("shutdown", "servers.shutdown"), ("reboot", "servers.reboot"),
                   ("reset", "servers.reset")):  # fmt: skip
    routes.post(f"/v1/servers/{{id}}/actions/{_name}")(_server_action(_name, _op))


@routes.post("/v1/servers/{id}/actions/change_type")
@operation("servers.change_type")
async def change_type(request: web.Request) -> web.Response:
    emu = emulator(request)
    server = emu.server(path_id(request))
    data = await body(request)
    server_type = ref_field(data, "server_type", required=True)
    upgrade_disk = field(data, "upgrade_disk", bool, required=True)
    assert server_type is not None
    action = emu.change_type(server, server_type, bool(upgrade_disk))
    return ok({"action": action.render()}, status=201)


@routes.post("/v1/servers/{id}/actions/rebuild")
@operation("servers.rebuild")
async def rebuild(request: web.Request) -> web.Response:
    emu = emulator(request)
    server = emu.server(path_id(request))
    data = await body(request)
    image_ref = ref_field(data, "image", required=True)
    assert image_ref is not None
    image = catalog.find_image(image_ref)
    if image is None:
        raise invalid_input({"image": f"image '{image_ref}' not found"})
    user_data = field(data, "user_data", str)
    action, password = emu.rebuild(server, image.name, user_data)
    return ok({"action": action.render(), "root_password": password}, status=201)
