"""The fixed catalogue: locations, datacenters, server types and images.

Names, IDs and shapes follow the real API so that code written against the emulator
(``server_type="cpx21"``, ``location="fsn1"``, ``image="ubuntu-24.04"``) runs unchanged
against Hetzner. Prices are plausible EUR list prices, not a contract.

Sources, since the catalogue decides what the emulator accepts where:
- the OpenAPI spec (tests/specs/hetzner-cloud-openapi.json): the six locations and their
  network zones (eu-central: fsn1, nbg1, hel1; us-east: ash; us-west: hil; ap-southeast:
  sin), the datacenter names ``fsn1-dc14``-style, and that a server type is "only
  supported in the Locations that are listed" in its ``locations`` (per-location server
  types, changelog 2025-09-24);
- Hetzner's public catalogue as known to us (not re-checked online): the cost-optimised
  ``cx*`` types exist only in the EU locations, the shared ``cpx*`` and dedicated ``ccx*``
  types also in Ashburn, Hillsboro and Singapore. Location and datacenter IDs are the real
  ones as far as we know; server type IDs of types added here are the emulator's own.
- Creating a server with a type its location does not list fails with
  ``invalid_input`` "unsupported location for server type", the answer users of
  hcloud-python report from the real API (testflows/TestFlows-GitHub-Hetzner-Runners#96).

Where unsure we list a type in fewer locations, so the emulator refuses rather than
accepts what Hetzner might refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

CATALOG_CREATED = "2024-01-01T00:00:00+00:00"
VAT = 0.19
TB = 1024**4


@dataclass(frozen=True)
class Location:
    id: int
    name: str
    description: str
    country: str
    city: str
    latitude: float
    longitude: float
    datacenter_id: int
    datacenter_name: str
    network_zone: str = "eu-central"

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "country": self.country,
            "city": self.city,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "network_zone": self.network_zone,
        }


@dataclass(frozen=True)
class ServerType:
    id: int
    name: str
    description: str
    cores: int
    memory: float
    disk: int
    cpu_type: str
    category: str
    monthly_eur: float
    architecture: str = "x86"
    # Names of the locations this type can be created in; empty means every location.
    only_in: tuple[str, ...] = ()

    @property
    def locations(self) -> tuple[Location, ...]:
        """The locations where this type is supported, in catalogue order."""
        return tuple(loc for loc in LOCATIONS if not self.only_in or loc.name in self.only_in)

    def available_in(self, location: str) -> bool:
        return any(loc.name == location for loc in self.locations)

    def render(self) -> dict[str, Any]:
        hourly = round(self.monthly_eur / 672, 4)
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "cores": self.cores,
            "memory": self.memory,
            "disk": self.disk,
            "deprecated": False,
            "deprecation": None,
            "cpu_type": self.cpu_type,
            "storage_type": "local",
            "architecture": self.architecture,
            "locations": [
                {
                    "id": loc.id,
                    "name": loc.name,
                    "deprecation": None,
                    "available": True,
                    "recommended": True,
                }
                for loc in self.locations
            ],
            "prices": [
                {
                    "location": loc.name,
                    "price_hourly": _price(hourly),
                    "price_monthly": _price(self.monthly_eur),
                    "price_per_tb_traffic": _price(1.0),
                    "included_traffic": 20 * TB,
                }
                for loc in self.locations
            ],
        }


@dataclass(frozen=True)
class Image:
    id: int
    name: str
    description: str
    os_flavor: str
    os_version: str

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "system",
            "status": "available",
            "name": self.name,
            "description": self.description,
            "image_size": None,
            "disk_size": 5,
            "created": CATALOG_CREATED,
            "created_from": None,
            "bound_to": None,
            "os_flavor": self.os_flavor,
            "os_version": self.os_version,
            "rapid_deploy": True,
            "protection": {"delete": False},
            "deprecated": None,
            "deleted": None,
            "labels": {},
            "architecture": "x86",
        }


def _price(net: float) -> dict[str, str]:
    return {"net": f"{net:.10f}", "gross": f"{net * (1 + VAT):.16f}"}


LOCATIONS: tuple[Location, ...] = (
    Location(1, "fsn1", "Falkenstein DC Park 1", "DE", "Falkenstein", 50.47612, 12.370071, 4,
             "fsn1-dc14"),
    Location(2, "nbg1", "Nuremberg DC Park 1", "DE", "Nuremberg", 49.452102, 11.076665, 2,
             "nbg1-dc3"),
    Location(3, "hel1", "Helsinki DC Park 1", "FI", "Helsinki", 60.169855, 24.938379, 3,
             "hel1-dc2"),
    Location(4, "ash", "Ashburn, VA", "US", "Ashburn, VA", 39.045821, -77.487073, 5,
             "ash-dc1", "us-east"),
    Location(5, "hil", "Hillsboro, OR", "US", "Hillsboro, OR", 45.54222, -122.95194, 6,
             "hil-dc1", "us-west"),
    Location(6, "sin", "Singapore", "SG", "Singapore", 1.283333, 103.833333, 7,
             "sin-dc1", "ap-southeast"),
)  # fmt: skip
EU = ("fsn1", "nbg1", "hel1")

SERVER_TYPES: tuple[ServerType, ...] = (
    ServerType(22, "cpx11", "CPX 11", 2, 2.0, 40, "shared", "regular_purpose", 4.35),
    ServerType(23, "cpx21", "CPX 21", 3, 4.0, 80, "shared", "regular_purpose", 7.55),
    ServerType(24, "cpx31", "CPX 31", 4, 8.0, 160, "shared", "regular_purpose", 13.60),
    ServerType(96, "ccx13", "CCX13 Dedicated CPU", 2, 8.0, 80, "dedicated", "general_purpose",
               12.49),
    ServerType(97, "ccx23", "CCX23 Dedicated CPU", 4, 16.0, 160, "dedicated", "general_purpose",
               24.49),
    ServerType(104, "cx22", "CX22", 2, 4.0, 40, "shared", "cost_optimized", 3.79,
               only_in=EU),
    ServerType(114, "cx23", "CX23", 2, 4.0, 40, "shared", "cost_optimized", 3.49,
               only_in=EU),
)  # fmt: skip

IMAGES: tuple[Image, ...] = (
    Image(161547269, "ubuntu-24.04", "Ubuntu 24.04", "ubuntu", "24.04"),
    Image(67794396, "ubuntu-22.04", "Ubuntu 22.04", "ubuntu", "22.04"),
    Image(114690387, "debian-12", "Debian 12", "debian", "12"),
)

DEFAULT_LOCATION = LOCATIONS[0]
_Named = TypeVar("_Named", Location, ServerType, Image)


def render_datacenter(loc: Location) -> dict[str, Any]:
    ids = [t.id for t in SERVER_TYPES if t.available_in(loc.name)]
    return {
        "id": loc.datacenter_id,
        "name": loc.datacenter_name,
        "description": f"{loc.city} {loc.datacenter_name.split('-')[-1].upper()}",
        "location": loc.render(),
        "server_types": {"supported": ids, "available": ids, "available_for_migration": ids},
    }


def _by_id_or_name(items: tuple[_Named, ...], key: str) -> _Named | None:
    for item in items:
        if key == item.name or key == str(item.id):
            return item
    return None


def find_location(key: str) -> Location | None:
    return _by_id_or_name(LOCATIONS, key)


def find_datacenter(key: str) -> Location | None:
    """The location of a datacenter given by name (``fsn1-dc14``) or ID."""
    dcs = (loc for loc in LOCATIONS if key in (loc.datacenter_name, str(loc.datacenter_id)))
    return next(dcs, None)


def find_server_type(key: str) -> ServerType | None:
    return _by_id_or_name(SERVER_TYPES, key)


def find_image(key: str) -> Image | None:
    return _by_id_or_name(IMAGES, key)
