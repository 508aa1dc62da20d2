"""Free ports for the local stack are ones no process is given by chance."""

from __future__ import annotations

import socket

from devstack.procs import EPHEMERAL_RANGE, LOWEST_PORT, distinct_free_ports, free_port


def test_free_ports_lie_below_the_range_the_kernel_hands_out() -> None:
    low, high = (int(n) for n in EPHEMERAL_RANGE.read_text().split())
    with socket.socket() as kernel_pick:  # what `temporal server start-dev` does for its own
        kernel_pick.bind(("127.0.0.1", 0))
        assert low <= kernel_pick.getsockname()[1] <= high

    ports = [*distinct_free_ports(40), free_port(), free_port("127.0.11.1")]
    assert len(set(ports)) == len(ports)  # never handed out twice
    assert all(LOWEST_PORT <= port < low for port in ports), ports
    for port in ports[:5]:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", port))
            listener.listen()
