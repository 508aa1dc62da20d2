"""Read-only catalogue endpoints: server types, locations, datacenters, images."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from devstack.faults import operation
from devstack.hetzner import catalog
from devstack.hetzner.errors import not_found
from devstack.hetzner.web import ok, paginate, path_id

routes = web.RouteTableDef()


def _listing(
    request: web.Request,
    key: str,
    items: Sequence[Any],
    render: Callable[[Any], dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> web.Response:
    if (name := request.query.get("name")) is not None:
        items = [i for i in items if _name(i) == name]
    page, meta, headers = paginate(request, items)
    return ok({key: [render(i) for i in page], "meta": meta, **(extra or {})}, headers=headers)


def _name(item: Any) -> str:
    return item.datacenter_name if isinstance(item, catalog.Location) else str(item.name)


def _one(items: Sequence[Any], item_id: int, what: str) -> Any:
    for item in items:
        if item.id == item_id:
            return item
    raise not_found(f"{what} with ID '{item_id}'")


@routes.get("/v1/server_types")
@operation("server_types.list")
async def list_server_types(request: web.Request) -> web.Response:
    return _listing(request, "server_types", catalog.SERVER_TYPES, lambda t: t.render())


@routes.get("/v1/server_types/{id}")
@operation("server_types.get")
async def get_server_type(request: web.Request) -> web.Response:
    item = _one(catalog.SERVER_TYPES, path_id(request), "server_type")
    return ok({"server_type": item.render()})


@routes.get("/v1/locations")
@operation("locations.list")
async def list_locations(request: web.Request) -> web.Response:
    if (name := request.query.get("name")) is not None:
        items = [loc for loc in catalog.LOCATIONS if loc.name == name]
    else:
        items = list(catalog.LOCATIONS)
    page, meta, headers = paginate(request, items)
    return ok({"locations": [loc.render() for loc in page], "meta": meta}, headers=headers)


@routes.get("/v1/locations/{id}")
@operation("locations.get")
async def get_location(request: web.Request) -> web.Response:
    return ok({"location": _one(catalog.LOCATIONS, path_id(request), "location").render()})


@routes.get("/v1/datacenters")
@operation("datacenters.list")
async def list_datacenters(request: web.Request) -> web.Response:
    recommendation = {"recommendation": catalog.DEFAULT_LOCATION.datacenter_id}
    return _listing(request, "datacenters", catalog.LOCATIONS, catalog.render_datacenter,
                    recommendation)  # fmt: skip


@routes.get("/v1/datacenters/{id}")
@operation("datacenters.get")
async def get_datacenter(request: web.Request) -> web.Response:
    wanted = path_id(request)
    for loc in catalog.LOCATIONS:
        if loc.datacenter_id == wanted:
            return ok({"datacenter": catalog.render_datacenter(loc)})
    raise not_found(f"datacenter with ID '{wanted}'")


@routes.get("/v1/images")
@operation("images.list")
async def list_images(request: web.Request) -> web.Response:
    images: Sequence[catalog.Image] = catalog.IMAGES
    if types := request.query.getall("type", []):
        images = [i for i in images if "system" in types]
    if arch := request.query.get("architecture"):
        images = [i for i in images if arch == "x86"]
    return _listing(request, "images", images, lambda i: i.render())


@routes.get("/v1/images/{id}")
@operation("images.get")
async def get_image(request: web.Request) -> web.Response:
    return ok({"image": _one(catalog.IMAGES, path_id(request), "image").render()})
