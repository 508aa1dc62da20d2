"""The emulator's records of servers and SSH keys, and their API representation."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

from devstack.hetzner import catalog
from devstack.hetzner.timefmt import now_iso

SERVER_STATUSES = (
    "running", "initializing", "starting", "stopping", "off",
    "deleting", "migrating", "rebuilding", "unknown",
)  # fmt: skip


@dataclass
class Server:
    id: int
    name: str
    server_type: str
    image: str
    location: str
    ip: str
    labels: dict[str, str] = field(default_factory=dict)
    status: str = "initializing"
    created: str = field(default_factory=now_iso)
    user_data: str | None = None
    ssh_keys: list[int] = field(default_factory=list)
    enable_ipv4: bool = True
    enable_ipv6: bool = True
    primary_disk_size: int = 0

    def render(self) -> dict[str, Any]:
        stype = catalog.find_server_type(self.server_type)
        image = catalog.find_image(self.image)
        loc = catalog.find_location(self.location)
        assert stype is not None and image is not None and loc is not None
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "created": self.created,
            "public_net": self._public_net(),
            "private_net": [],
            "server_type": stype.render(),
            "datacenter": catalog.render_datacenter(loc),
            "location": loc.render(),
            "image": image.render(),
            "iso": None,
            "rescue_enabled": False,
            "locked": False,
            "backup_window": None,
            "outgoing_traffic": 0,
            "ingoing_traffic": 0,
            "included_traffic": 20 * catalog.TB,
            "protection": {"delete": False, "rebuild": False},
            "labels": dict(self.labels),
            "volumes": [],
            "load_balancers": [],
            "primary_disk_size": self.primary_disk_size,
            "placement_group": None,
        }

    def _public_net(self) -> dict[str, Any]:
        ipv4 = None
        if self.enable_ipv4:
            reverse = ".".join(reversed(self.ip.split(".")))
            ipv4 = {
                "id": 10_000 + self.id,
                "ip": self.ip,
                "blocked": False,
                "dns_ptr": f"static.{reverse}.clients.your-server.de",
            }
        ipv6 = None
        if self.enable_ipv6:
            # Documentation prefix: a real-looking /64 per server that routes nowhere.
            net = ipaddress.IPv6Network(f"2001:db8:{self.id >> 16:x}:{self.id & 0xFFFF:x}::/64")
            ipv6 = {"id": 20_000 + self.id, "ip": str(net), "blocked": False, "dns_ptr": []}
        return {"ipv4": ipv4, "ipv6": ipv6, "floating_ips": [], "firewalls": []}

    def dump(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SshKey:
    id: int
    name: str
    public_key: str
    labels: dict[str, str] = field(default_factory=dict)
    created: str = field(default_factory=now_iso)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "fingerprint": self.fingerprint,
            "public_key": self.public_key,
            "labels": dict(self.labels),
            "created": self.created,
        }

    def dump(self) -> dict[str, Any]:
        return asdict(self)


def fingerprint(public_key: str) -> str:
    """The MD5 fingerprint Hetzner shows for a key (``aa:bb:...``)."""
    parts = public_key.split()
    if len(parts) < 2:
        raise ValueError("not an OpenSSH public key")
    blob = base64.b64decode(parts[1], validate=True)
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
