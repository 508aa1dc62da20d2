"""Loopback addresses for servers: one per server, held until the server is deleted."""

from __future__ import annotations

import ipaddress

from devstack.procs import port_in_use

# What an emulated server listens on: its sshd and its stack's health endpoint.
SERVER_PORTS = (22, 80)


class AddressPool:
    """Hands out the lowest free address of ``network`` from ``first`` on.

    Any 127.x address is reachable on Linux without setup, which is what lets each
    emulated server listen on its own ``<ip>:22`` and ``<ip>:80``. Loopback is shared
    by everything on the machine (another emulator, a test run beside `tenantry dev`),
    so an address where something already listens on those ports is skipped, as a
    cloud never hands out an address that is in use.
    """

    def __init__(self, network: str, first: str | None = None) -> None:
        self.network = ipaddress.IPv4Network(network)
        if not self.network.subnet_of(ipaddress.IPv4Network("127.0.0.0/8")):
            raise ValueError(f"server network {network} must be inside 127.0.0.0/8")
        start = ipaddress.IPv4Address(first) if first else self.network.network_address + 2
        if start not in self.network:
            raise ValueError(f"first address {start} is not in {network}")
        self._start = int(start)
        self._end = int(self.network.broadcast_address) - 1
        self._used: set[int] = set()

    def allocate(self) -> str:
        for candidate in range(self._start, self._end + 1):
            if candidate in self._used:
                continue
            address = str(ipaddress.IPv4Address(candidate))
            if any(port_in_use(address, port) for port in SERVER_PORTS):
                continue
            self._used.add(candidate)
            return address
        raise RuntimeError(f"no free address left in {self.network}")

    def reserve(self, address: str) -> None:
        """Marks an address as taken (servers restored from saved state)."""
        self._used.add(int(ipaddress.IPv4Address(address)))

    def release(self, address: str) -> None:
        self._used.discard(int(ipaddress.IPv4Address(address)))
