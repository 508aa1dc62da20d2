"""The catalogue: six locations, and server types only where Hetzner offers them.

A server type lists the locations it is supported in (the spec: "only supported in the
Locations that are listed"); creating it anywhere else fails as the real API does, with
``invalid_input`` "unsupported location for server type".
"""

from __future__ import annotations

from typing import Any

import hcloud
import pytest
from hcloud.locations import Location

from tests.fixtures.hetzner import HetznerEmulator, create_server

EU = {"fsn1", "nbg1", "hel1"}
ZONES = {"fsn1": "eu-central", "nbg1": "eu-central", "hel1": "eu-central",
         "ash": "us-east", "hil": "us-west", "sin": "ap-southeast"}  # fmt: skip


def _types(client: hcloud.Client) -> list[dict[str, Any]]:
    return list(client.request("GET", "/server_types", params={"per_page": 50})["server_types"])


def _supported(server_type: dict[str, Any]) -> set[str]:
    return {loc["name"] for loc in server_type["locations"]}


def test_locations_zones_and_datacenters(hcloud_client: hcloud.Client) -> None:
    locations = hcloud_client.request("GET", "/locations")["locations"]
    assert {loc["name"]: loc["network_zone"] for loc in locations} == ZONES
    datacenters = hcloud_client.request("GET", "/datacenters")["datacenters"]
    assert {dc["location"]["name"] for dc in datacenters} == set(ZONES)
    types = {t["id"]: t for t in _types(hcloud_client)}
    for dc in datacenters:
        listed = set(dc["server_types"]["available"])
        assert listed == {i for i, t in types.items() if dc["location"]["name"] in _supported(t)}
        assert dc["name"].startswith(dc["location"]["name"] + "-dc")


def test_cx_types_are_eu_only_and_prices_follow_locations(hcloud_client: hcloud.Client) -> None:
    types = {t["name"]: t for t in _types(hcloud_client)}
    cx = [t for name, t in types.items() if name.startswith("cx")]
    assert cx and all(_supported(t) == EU for t in cx)
    assert _supported(types["cpx21"]) == set(ZONES)
    for server_type in types.values():
        assert {p["location"] for p in server_type["prices"]} == _supported(server_type)


def test_every_location_takes_a_type_it_lists_and_refuses_one_it_does_not(
    hetzner: HetznerEmulator, hcloud_client: hcloud.Client
) -> None:
    types = _types(hcloud_client)
    refused = 0
    for loc in hcloud_client.request("GET", "/locations")["locations"]:
        name = loc["name"]
        fits = next(t["name"] for t in types if name in _supported(t))
        server = create_server(
            hcloud_client, f"in-{name}", server_type=fits, location=Location(name=name),
            start_after_create=False,
        ).server  # fmt: skip
        shown = hcloud_client.request("GET", f"/servers/{server.id}")["server"]
        assert (shown["location"]["name"], shown["server_type"]["name"]) == (name, fits)
        assert shown["datacenter"]["location"]["name"] == name
        misfits = [t["name"] for t in types if name not in _supported(t)]
        if name in EU:
            assert not misfits, f"{misfits} missing from {name}"
            continue
        for misfit in misfits:
            with pytest.raises(hcloud.APIException) as err:
                create_server(hcloud_client, f"no-{misfit}-{name}", server_type=misfit,
                              location=Location(name=name), wait=False)  # fmt: skip
            assert (err.value.code, err.value.message) == (
                "invalid_input",
                "unsupported location for server type",
            )
            refused += 1
    assert refused >= 3  # at least one refusal in each of ash, hil and sin
    assert [s.name for s in hcloud_client.servers.get_all() if s.name.startswith("no-")] == []


def test_change_type_to_a_type_the_location_lacks_is_invalid_server_type(
    hetzner: HetznerEmulator, hcloud_client: hcloud.Client
) -> None:
    from hcloud.server_types import ServerType

    server = create_server(
        hcloud_client, "us-east", location=Location(name="ash"), start_after_create=False
    ).server
    with pytest.raises(hcloud.APIException) as err:
        hcloud_client.servers.change_type(server, ServerType(name="cx23"), upgrade_disk=False)
    assert err.value.code == "invalid_server_type"
