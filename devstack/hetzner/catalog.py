"""The fixed catalogue: locations, datacenters, server types and images.

Names, IDs and shapes follow the real API so that code written against the emulator
(``server_type="cpx21"``, ``location="fsn1"``, ``image="ubuntu-24.04"``) runs unchanged
against Hetzner. Prices are plausible EUR list prices, not a contract.
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

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "country": self.country,
            "city": self.city,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "network_zone": "eu-central",
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
                for loc in LOCATIONS
            ],
            "prices": [
                {
                    "location": loc.name,
                    "price_hourly": _price(hourly),
                    "price_monthly": _price(self.monthly_eur),
                    "price_per_tb_traffic": _price(1.0),
                    "included_traffic": 20 * TB,
                }
                for loc in LOCATIONS
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
)  # fmt: skip

SERVER_TYPES: tuple[ServerType, ...] = (
    ServerType(22, "cpx11", "CPX 11", 2, 2.0, 40, "shared", "regular_purpose", 4.35),
    ServerType(23, "cpx21", "CPX 21", 3, 4.0, 80, "shared", "regular_purpose", 7.55),
    ServerType(24, "cpx31", "CPX 31", 4, 8.0, 160, "shared", "regular_purpose", 13.60),
    ServerType(96, "ccx13", "CCX13 Dedicated CPU", 2, 8.0, 80, "dedicated", "general_purpose",
               12.49),
    ServerType(97, "ccx23", "CCX23 Dedicated CPU", 4, 16.0, 160, "dedicated", "general_purpose",
               24.49),
    ServerType(104, "cx22", "CX22", 2, 4.0, 40, "shared", "cost_optimized", 3.79),
)  # fmt: skip

IMAGES: tuple[Image, ...] = (
    Image(161547269, "ubuntu-24.04", "Ubuntu 24.04", "ubuntu", "24.04"),
    Image(67794396, "ubuntu-22.04", "Ubuntu 22.04", "ubuntu", "22.04"),
    Image(114690387, "debian-12", "Debian 12", "debian", "12"),
)

DEFAULT_LOCATION = LOCATIONS[0]
_Named = TypeVar("_Named", Location, ServerType, Image)


def render_datacenter(loc: Location) -> dict[str, Any]:
    ids = [t.id for t in SERVER_TYPES]
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
