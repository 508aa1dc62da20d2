"""Every response of the emulator validates against its operation's schema in the spec.

The spec is OpenAPI 3.0: ``nullable: true`` is not JSON Schema, so it is rewritten as
``anyOf: [{"type": "null"}, <schema>]`` before validating (with date-time formats checked).
Responses are fetched through hcloud's own ``Client.request`` (raw payloads); error bodies
are rebuilt from the ``APIException`` hcloud raises, which carries all three fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

import hcloud
import jsonschema
import pytest
from hcloud import APIException
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.fixtures.hetzner import HetznerEmulator, ServerKeys
from tests.support.specs import spec_path

SPEC_URI = "urn:hetzner-cloud-openapi"


def _openapi_to_jsonschema(node: Any) -> Any:
    if isinstance(node, list):
        return [_openapi_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi_to_jsonschema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [{"type": "null"}, out]}
    return out


@cache
def _spec() -> dict[str, Any]:
    return json.loads(spec_path("hetzner-cloud-openapi.json").read_text())


@cache
def _registry() -> Registry:
    converted = _openapi_to_jsonschema(_spec())
    return Registry().with_resource(SPEC_URI, Resource.from_contents(converted, DRAFT4))


def _response_pointer(path: str, method: str, status: str) -> str:
    responses = _spec()["paths"][path][method]["responses"]
    key = status if status in responses else f"{status[0]}xx"
    schema = responses[key]["content"]["application/json"]["schema"]
    ref = schema["$ref"]
    assert ref.startswith("#/")
    return ref


def validate(path: str, method: str, status: str, payload: dict[str, Any]) -> None:
    ref = _response_pointer(path, method, status)
    validator = jsonschema.Draft4Validator(
        {"$ref": f"{SPEC_URI}{ref}"},
        registry=_registry(),
        format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER,
    )
    errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path))
    assert not errors, f"{method.upper()} {path} -> {status}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors[:5]
    )


def _call(client: hcloud.Client, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    return client.request(method, url, **kwargs)


def _error(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(APIException) as err:
        call()
    exc = err.value
    return {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}


def _wait(client: hcloud.Client, *actions: dict[str, Any]) -> None:
    for action in actions:
        client.actions.get_by_id(action["id"]).wait_until_finished()


def test_every_operation_conforms(
    hetzner: HetznerEmulator, hcloud_client: hcloud.Client, server_keys: ServerKeys
) -> None:
    c = hcloud_client
    checked: list[str] = []

    def check(path: str, method: str, status: str, payload: dict[str, Any]) -> dict[str, Any]:
        validate(path, method, status, payload)
        checked.append(f"{method.upper()} {path} {status}")
        return payload

    # catalogue
    for path, key in [
        ("/server_types", "server_types"),
        ("/locations", "locations"),
        ("/datacenters", "datacenters"),
        ("/images", "images"),
    ]:
        listing = check(path, "get", "200", _call(c, "GET", path))
        one = listing[key][0]["id"]
        check(f"{path}/{{id}}", "get", "200", _call(c, "GET", f"{path}/{one}"))

    # ssh keys
    public = server_keys.client.export_public_key().decode().strip()
    key = check(
        "/ssh_keys",
        "post",
        "201",
        _call(c, "POST", "/ssh_keys", json={"name": "k", "public_key": public}),
    )
    check("/ssh_keys", "get", "200", _call(c, "GET", "/ssh_keys"))
    check("/ssh_keys/{id}", "get", "200", _call(c, "GET", f"/ssh_keys/{key['ssh_key']['id']}"))
    check(
        "/ssh_keys/{id}",
        "put",
        "200",
        _call(c, "PUT", f"/ssh_keys/{key['ssh_key']['id']}", json={"labels": {"a": "b"}}),
    )

    # servers
    body = {
        "name": "conf-1",
        "server_type": "cpx21",
        "image": "ubuntu-24.04",
        "location": "nbg1",
        "labels": {"tenant": "acme"},
        "user_data": server_keys.user_data(),
    }
    created = check("/servers", "post", "201", _call(c, "POST", "/servers", json=body))
    sid = created["server"]["id"]
    keyed = check(
        "/servers",
        "post",
        "201",
        _call(
            c,
            "POST",
            "/servers",
            json={
                **body,
                "name": "conf-2",
                "ssh_keys": ["k"],
                "start_after_create": False,
                "public_net": {"enable_ipv4": True, "enable_ipv6": False},
            },
        ),
    )
    assert keyed["root_password"] is None and keyed["server"]["public_net"]["ipv6"] is None
    check(
        "/servers/{id}/actions/poweroff",
        "post",
        "4xx",
        _error(lambda: _call(c, "POST", f"/servers/{sid}/actions/poweroff")),
    )  # locked
    _wait(c, created["action"], *created["next_actions"], keyed["action"])

    check("/servers", "get", "200", _call(c, "GET", "/servers", params={"per_page": 1}))
    check(
        "/servers",
        "get",
        "200",
        _call(c, "GET", "/servers", params={"label_selector": "tenant=acme"}),
    )
    check("/servers/{id}", "get", "200", _call(c, "GET", f"/servers/{sid}"))
    check(
        "/servers/{id}",
        "put",
        "200",
        _call(c, "PUT", f"/servers/{sid}", json={"name": "conf-1b", "labels": {"x": "y"}}),
    )

    def action(name: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        path = f"/servers/{{id}}/actions/{name}"
        result = check(
            path,
            "post",
            "201",
            _call(c, "POST", f"/servers/{sid}/actions/{name}", json=payload or {}),
        )
        _wait(c, result["action"])
        return result

    check(
        "/servers/{id}/actions/change_type",
        "post",
        "4xx",
        _error(
            lambda: _call(
                c,
                "POST",
                f"/servers/{sid}/actions/change_type",
                json={"server_type": "ccx13", "upgrade_disk": False},
            )
        ),
    )
    for name in ("reboot", "reset", "shutdown", "poweron", "poweroff"):
        action(name)
    action("change_type", {"server_type": "ccx13", "upgrade_disk": True})
    action("poweron")
    rebuilt = action("rebuild", {"image": "debian-12"})
    aid = rebuilt["action"]["id"]

    check("/actions/{id}", "get", "200", _call(c, "GET", f"/actions/{aid}"))
    check("/actions", "get", "200", _call(c, "GET", "/actions", params={"id": aid}))
    check("/servers/actions", "get", "200", _call(c, "GET", "/servers/actions"))
    check("/servers/actions/{id}", "get", "200", _call(c, "GET", f"/servers/actions/{aid}"))
    check(
        "/servers/{id}/actions",
        "get",
        "200",
        _call(c, "GET", f"/servers/{sid}/actions", params={"sort": "id:desc"}),
    )
    check(
        "/servers/{id}/actions/{action_id}",
        "get",
        "200",
        _call(c, "GET", f"/servers/{sid}/actions/{aid}"),
    )

    # errors
    wrong = hetzner.client(token="nope")
    check("/servers", "get", "4xx", _error(lambda: _call(wrong, "GET", "/servers")))
    check("/servers/{id}", "get", "4xx", _error(lambda: _call(c, "GET", "/servers/999999")))
    check(
        "/servers",
        "post",
        "4xx",
        _error(lambda: _call(c, "POST", "/servers", json={**body, "name": "conf-2"})),
    )
    check(
        "/servers", "post", "4xx", _error(lambda: _call(c, "POST", "/servers", json={"name": "x"}))
    )

    deleted = check("/servers/{id}", "delete", "200", _call(c, "DELETE", f"/servers/{sid}"))
    _wait(c, deleted["action"])
    assert len(checked) >= 39, checked


def test_the_validator_catches_a_broken_server(
    hetzner: HetznerEmulator, hcloud_client: hcloud.Client
) -> None:
    """Guards the guard: a missing required field and a bad null must both fail."""
    body = {"name": "broken", "server_type": "cpx21", "image": "debian-12"}
    payload = _call(hcloud_client, "POST", "/servers", json=body)
    validate("/servers", "post", "201", payload)
    del payload["server"]["public_net"]["ipv4"]
    with pytest.raises(AssertionError, match="ipv4"):
        validate("/servers", "post", "201", payload)
    payload["server"]["public_net"]["ipv4"] = None
    payload["server"]["name"] = None
    with pytest.raises(AssertionError, match="name"):
        validate("/servers", "post", "201", payload)
