"""Servers are real enough to drive: sshd with pinned host keys and a tenant stack."""

from __future__ import annotations

import os
from pathlib import Path

import asyncssh
import hcloud
import pytest

from tests.fixtures.hetzner import (
    NETWORK_PREFIX,
    HetznerEmulator,
    ServerKeys,
    b64,
    create_server,
    unreachable,
    wait_for_health,
)


def _mode(path: Path) -> int | None:
    """Permission bits of a file, or None if it does not exist."""
    return path.stat().st_mode & 0o777 if path.exists() else None


def test_sshd_is_installed() -> None:
    """The machine tests need OpenSSH's sshd: fail loudly, never skip."""
    assert os.access("/usr/sbin/sshd", os.X_OK), "install Debian's openssh-server"


async def test_ssh_and_health_lifecycle(
    hetzner: HetznerEmulator, hcloud_client: hcloud.Client, server_keys: ServerKeys,
    tmp_path: Path,
) -> None:  # fmt: skip
    files = [
        {"path": "/etc/tenantry/stack.env", "content": "TIER=pro\n", "permissions": "0600"},
        {"path": "/opt/app/motd", "content": b64("hello\n"), "encoding": "b64"},
    ]
    response = create_server(hcloud_client, "tenant-acme", user_data=server_keys.user_data(files))
    ip = response.server.public_net.ipv4.ip
    known_hosts = server_keys.known_hosts(tmp_path / "known_hosts", ip)
    wait_for_health(ip, 200)

    async with await server_keys.connect(ip, known_hosts) as conn:
        assert (await conn.run("hostname", check=True)).stdout == "tenant-acme\n"
        assert (await conn.run("cloud-init status --wait", check=True)).stdout == "status: done\n"
        assert (await conn.run("cat /etc/tenantry/stack.env", check=True)).stdout == "TIER=pro\n"
        assert (await conn.run("cat /opt/app/motd", check=True)).stdout == "hello\n"
        assert "Linux tenant-acme" in str((await conn.run("uname -a", check=True)).stdout)
        assert (await conn.run("true")).exit_status == 0
        unknown = await conn.run("rm -rf /")
        assert unknown.exit_status == 127 and "not found" in str(unknown.stderr)

        await conn.run("tenantry-stack stop", check=True)
        wait_for_health(ip, 503)
        assert (await conn.run("tenantry-stack status", check=True)).stdout == "stopped\n"
        await conn.run("tenantry-stack start", check=True)
        wait_for_health(ip, 200)

    server_dir = Path(hetzner.machine(response.server.id)["dir"])
    assert _mode(server_dir / "root" / "etc" / "tenantry" / "stack.env") == 0o600
    assert _mode(Path("/etc/tenantry/stack.env")) is None  # never the real /

    hcloud_client.servers.power_off(response.server).wait_until_finished()
    assert unreachable(ip, 80) and unreachable(ip, 22)
    assert hetzner.machine(response.server.id)["machine"] == "off"

    hcloud_client.servers.power_on(response.server).wait_until_finished()
    wait_for_health(ip, 200)
    async with await server_keys.connect(ip, known_hosts) as conn:
        assert (await conn.run("true")).exit_status == 0

    hcloud_client.servers.delete(response.server).wait_until_finished()
    assert unreachable(ip, 80) and unreachable(ip, 22)
    assert _mode(server_dir) is None


async def test_a_wrong_host_key_is_rejected(
    hcloud_client: hcloud.Client, server_keys: ServerKeys, tmp_path: Path
) -> None:
    response = create_server(hcloud_client, "pinned", user_data=server_keys.user_data())
    ip = response.server.public_net.ipv4.ip
    wait_for_health(ip)
    impostor = ServerKeys(client=server_keys.client)
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        await server_keys.connect(ip, impostor.known_hosts(tmp_path / "kh", ip))


async def test_reboot_keeps_stack_state_and_comes_back(
    hcloud_client: hcloud.Client, server_keys: ServerKeys, tmp_path: Path
) -> None:
    response = create_server(hcloud_client, "rebooter", user_data=server_keys.user_data())
    ip = response.server.public_net.ipv4.ip
    known_hosts = server_keys.known_hosts(tmp_path / "kh", ip)
    wait_for_health(ip)
    async with await server_keys.connect(ip, known_hosts) as conn:
        await conn.run("tenantry-stack stop", check=True)
    hcloud_client.servers.reboot(response.server).wait_until_finished()
    wait_for_health(ip, 503)


def test_boot_delay_and_address_reuse_after_delete(
    hetzner: HetznerEmulator, hcloud_client: hcloud.Client
) -> None:
    hetzner.admin.post("/_admin/config", {"boot_delay": 1.0})
    first = create_server(hcloud_client, "first")
    ip = first.server.public_net.ipv4.ip
    assert ip == f"{NETWORK_PREFIX}0.2"
    assert unreachable(ip)  # running, but still booting
    wait_for_health(ip)
    second = create_server(hcloud_client, "second", wait=False)
    assert second.server.public_net.ipv4.ip == f"{NETWORK_PREFIX}0.3"
    hcloud_client.servers.delete(first.server).wait_until_finished()
    third = create_server(hcloud_client, "third", wait=False)
    assert third.server.public_net.ipv4.ip == f"{NETWORK_PREFIX}0.2"


def test_reset_tears_down_every_machine(
    hetzner: HetznerEmulator, hcloud_client: hcloud.Client
) -> None:
    ips = [create_server(hcloud_client, f"r{i}").server.public_net.ipv4.ip for i in range(2)]
    for ip in ips:
        wait_for_health(ip)
    hetzner.admin.reset()
    assert all(unreachable(ip) and unreachable(ip, 22) for ip in ips)
    assert hetzner.admin.get("/_admin/servers")["servers"] == []
