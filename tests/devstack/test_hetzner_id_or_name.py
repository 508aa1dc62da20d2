"""Every request field the spec calls "ID or name" takes both, in every implemented operation.

The spec types such fields as strings, but Hetzner's own clients (hcloud-go, hcloud-python
with an ``id`` set) send integers, and the real API takes them. The fields are not listed
here by hand: they are read from the spec's request bodies of the operations the emulator
routes, so a field the spec adds, or an operation the emulator starts to implement, fails
this test until the walk knows which catalogue resource it names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import hcloud
import pytest

from devstack.hetzner import routes_actions, routes_catalog, routes_servers, routes_ssh_keys
from tests.fixtures.hetzner import HetznerEmulator, ServerKeys
from tests.support.specs import spec_path

# How the spec words such a field: "ID or name of ..." and "SSH key IDs (`integer`) or
# names (`string`)".
ID_OR_NAME = re.compile(r"\bIDs? \(`integer`\) or names? \(`string`\)|\bID or name\b")

# The catalogue resource each such field names: (collection to list, the name to use).
RESOURCES: dict[str, tuple[str, str]] = {
    "server_type": ("server_types", "cpx31"),
    "image": ("images", "debian-12"),
    "location": ("locations", "hel1"),
    "datacenter": ("datacenters", "nbg1-dc3"),
    "ssh_keys": ("ssh_keys", "walk-key"),
}


@cache
def _spec() -> dict[str, Any]:
    return json.loads(spec_path("hetzner-cloud-openapi.json").read_text())


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = _spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _id_or_name_fields(schema: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths of the "ID or name" properties of a request body schema."""
    schema = _resolve(schema)
    for name, prop in (schema.get("properties") or {}).items():
        prop = _resolve(prop)
        if ID_OR_NAME.search(prop.get("description") or ""):
            yield prefix + name
        elif prop.get("type") == "object":
            yield from _id_or_name_fields(prop, f"{prefix}{name}.")


def _implemented_operations() -> list[tuple[str, str]]:
    """(method, spec path) of every write the emulator routes, e.g. POST /servers."""
    ops = []
    tables = (routes_servers, routes_actions, routes_catalog, routes_ssh_keys)
    for table in (module.routes for module in tables):
        for route in table:
            method, path = route.method.lower(), route.path.removeprefix("/v1")  # type: ignore[attr-defined]
            if method in ("post", "put") and path in _spec()["paths"]:
                ops.append((method, path))
    return ops


def spec_fields() -> list[tuple[str, str, str]]:
    found = []
    for method, path in _implemented_operations():
        body = _spec()["paths"][path][method].get("requestBody")
        if body is None:
            continue
        schema = body["content"]["application/json"]["schema"]
        found += [(method, path, name) for name in _id_or_name_fields(schema)]
    return sorted(found)


def test_the_walk_finds_the_fields_we_know_of() -> None:
    """Guards the walk itself: a spec or regex change must not make the test below empty."""
    assert set(spec_fields()) >= {
        ("post", "/servers", "server_type"),
        ("post", "/servers", "image"),
        ("post", "/servers", "location"),
        ("post", "/servers", "datacenter"),
        ("post", "/servers", "ssh_keys"),
        ("post", "/servers/{id}/actions/change_type", "server_type"),
        ("post", "/servers/{id}/actions/rebuild", "image"),
    }


def _id_of(client: hcloud.Client, collection: str, name: str) -> int:
    items = client.request("GET", f"/{collection}", params={"per_page": 50})[collection]
    by_name = {item["name"]: item["id"] for item in items}
    assert name in by_name, f"{name} is not in /{collection}"
    return int(by_name[name])


def _wait(client: hcloud.Client, *actions: dict[str, Any]) -> None:
    for action in actions:
        client.actions.get_by_id(action["id"]).wait_until_finished()


def _new_server(client: hcloud.Client, name: str, **extra: Any) -> dict[str, Any]:
    body = {"name": name, "server_type": "cpx21", "image": "ubuntu-24.04",
            "start_after_create": False, **extra}  # fmt: skip
    created = client.request("POST", "/servers", json=body)
    _wait(client, created["action"], *created["next_actions"])
    return dict(created["server"])


def _rendered(server: dict[str, Any], field: str) -> Any:
    """What the server shows for a field, to check the reference landed where it should."""
    if field == "ssh_keys":
        return None  # not part of a server's representation
    return server[field]["name"]


@pytest.mark.parametrize("form", ["id", "name"])
def test_every_id_or_name_field_accepts_both_forms(
    hetzner: HetznerEmulator, hcloud_client: hcloud.Client, server_keys: ServerKeys, form: str
) -> None:
    client = hcloud_client
    public = server_keys.client.export_public_key().decode().strip()
    client.request("POST", "/ssh_keys", json={"name": "walk-key", "public_key": public})
    fields = spec_fields()
    assert fields
    for n, (method, path, field) in enumerate(fields):
        assert field in RESOURCES, f"{method.upper()} {path}: which resource is '{field}'?"
        collection, name = RESOURCES[field]
        ref: int | str = _id_of(client, collection, name) if form == "id" else name
        value = [ref] if field == "ssh_keys" else ref
        where = f"{method.upper()} {path} {field}={value!r}"
        if path == "/servers":
            created = client.request("POST", "/servers", json={
                "name": f"walk-{form}-{n}", "server_type": "cpx21", "image": "ubuntu-24.04",
                "start_after_create": False, field: value,
            })  # fmt: skip
            _wait(client, created["action"])
            server = client.request("GET", f"/servers/{created['server']['id']}")["server"]
            assert _rendered(server, field) in (None, name), where
            continue
        server = _new_server(client, f"walk-{form}-{n}")
        action = path.rsplit("/", 1)[-1]
        extra = {"upgrade_disk": True} if action == "change_type" else {}
        answer = client.request(
            "POST", f"/servers/{server['id']}/actions/{action}", json={field: value, **extra}
        )
        _wait(client, answer["action"])
        server = client.request("GET", f"/servers/{server['id']}")["server"]
        assert _rendered(server, field) == name, where


def test_neither_id_nor_name_is_invalid_input(hcloud_client: hcloud.Client) -> None:
    for bad in (True, 1.5, {"id": 22}):
        with pytest.raises(hcloud.APIException) as err:
            hcloud_client.request("POST", "/servers", json={
                "name": "bad", "server_type": bad, "image": "ubuntu-24.04",
            })  # fmt: skip
        assert err.value.code == "invalid_input"
        assert err.value.details["fields"][0]["name"] == "server_type"
