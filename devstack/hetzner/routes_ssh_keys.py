"""``/ssh_keys``: keys registered here are installed for root on servers that name them."""

from __future__ import annotations

from aiohttp import web

from devstack.faults import operation
from devstack.hetzner.errors import invalid_input
from devstack.hetzner.labels import parse_selector, validate_labels
from devstack.hetzner.models import fingerprint
from devstack.hetzner.web import body, emulator, field, ok, paginate, path_id, sort_items

routes = web.RouteTableDef()


@routes.get("/v1/ssh_keys")
@operation("ssh_keys.list")
async def list_ssh_keys(request: web.Request) -> web.Response:
    keys = sorted(emulator(request).ssh_keys.values(), key=lambda k: k.id)
    if (name := request.query.get("name")) is not None:
        keys = [k for k in keys if k.name == name]
    if (fp := request.query.get("fingerprint")) is not None:
        keys = [k for k in keys if k.fingerprint == fp]
    if (selector := request.query.get("label_selector")) is not None:
        matches = parse_selector(selector)
        keys = [k for k in keys if matches(k.labels)]
    keys = sort_items(request, keys, {"id", "name"})
    page, meta, headers = paginate(request, keys)
    return ok({"ssh_keys": [k.render() for k in page], "meta": meta}, headers=headers)


@routes.post("/v1/ssh_keys")
@operation("ssh_keys.create")
async def create_ssh_key(request: web.Request) -> web.Response:
    data = await body(request)
    name = field(data, "name", str, required=True)
    public_key = field(data, "public_key", str, required=True)
    assert name is not None and public_key is not None
    try:
        fingerprint(public_key)
    except ValueError:
        raise invalid_input({"public_key": "invalid public key"}) from None
    labels = validate_labels(data.get("labels") or {})
    key = emulator(request).create_ssh_key(name, public_key.strip(), labels)
    return ok({"ssh_key": key.render()}, status=201)


@routes.get("/v1/ssh_keys/{id}")
@operation("ssh_keys.get")
async def get_ssh_key(request: web.Request) -> web.Response:
    return ok({"ssh_key": emulator(request).ssh_key(path_id(request)).render()})


@routes.put("/v1/ssh_keys/{id}")
@operation("ssh_keys.update")
async def update_ssh_key(request: web.Request) -> web.Response:
    emu = emulator(request)
    key = emu.ssh_key(path_id(request))
    data = await body(request)
    if (name := field(data, "name", str)) is not None:
        key.name = name
    if data.get("labels") is not None:
        key.labels = validate_labels(data["labels"])
    emu.changed()
    return ok({"ssh_key": key.render()})


@routes.delete("/v1/ssh_keys/{id}")
@operation("ssh_keys.delete")
async def delete_ssh_key(request: web.Request) -> web.Response:
    emu = emulator(request)
    key = emu.ssh_key(path_id(request))
    del emu.ssh_keys[key.id]
    emu.changed()
    return web.Response(status=204)
