"""The emulator's address pool never hands out a loopback address something else listens on."""

from __future__ import annotations

import socket

from devstack.hetzner.ippool import AddressPool


def test_an_address_in_use_on_port_22_is_skipped_and_released_ones_come_back() -> None:
    # Outside 127.21-127.50, the test sessions' emulator networks (another xdist worker's
    # servers listen on port 22 there).
    pool = AddressPool("127.61.0.0/16")
    with socket.socket() as other_sshd:  # e.g. another emulator's server on the same network
        other_sshd.bind(("127.61.0.2", 22))
        other_sshd.listen()
        first, second = pool.allocate(), pool.allocate()
    assert (first, second) == ("127.61.0.3", "127.61.0.4")
    assert pool.allocate() == "127.61.0.2"  # free again once its listener is gone
    pool.release(first)
    assert pool.allocate() == first
