"""``--persist``: a restarted emulator keeps its servers and boots the running ones."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.hetzner import (
    ServerKeys,
    create_server,
    start_emulator,
    unreachable,
    wait_for_health,
)


async def test_servers_survive_a_restart(tmp_path: Path, server_keys: ServerKeys) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    network = "127.22.0.0/16"  # apart from the session emulator's network
    first = start_emulator(state_dir, network=network, extra=["--persist"])
    try:
        client = first.client()
        kept = create_server(client, "kept", user_data=server_keys.user_data(), labels={"k": "v"})
        cold = create_server(client, "cold", start_after_create=False)
        ip = kept.server.public_net.ipv4.ip
        wait_for_health(ip)
    finally:
        first.admin.close()
        first.process.stop()
    assert unreachable(ip) and unreachable(ip, 22)  # SIGTERM left no sshd behind

    second = start_emulator(state_dir, network=network, extra=["--persist"])
    try:
        client = second.client()
        servers = {s.name: s for s in client.servers.get_all()}
        assert servers["kept"].id == kept.server.id and servers["kept"].labels == {"k": "v"}
        assert (servers["kept"].status, servers["cold"].status) == ("running", "off")
        assert cold.server.public_net.ipv4.ip != ip
        wait_for_health(ip)
        known_hosts = server_keys.known_hosts(tmp_path / "kh", ip)
        async with await server_keys.connect(ip, known_hosts) as conn:
            assert (await conn.run("hostname", check=True)).stdout == "kept\n"
        fresh = create_server(client, "fresh", wait=False).server
        assert fresh.id > max(kept.server.id, cold.server.id)
        assert fresh.public_net.ipv4.ip not in (ip, cold.server.public_net.ipv4.ip)
    finally:
        second.admin.reset()
        second.admin.close()
        second.process.stop()
