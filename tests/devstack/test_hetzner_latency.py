"""Realistic server latency per type: create -> running and running -> healthy.

Off by default (the fixture's servers are ready at once); on, the create action's
progress grows over the type's delay, hcloud's own polling waits it out, the server is
`initializing` until then, and `cloud-init status` and the stack's `/health` say the
server is still booting until the boot-to-health delay has passed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import hcloud
import httpx
import pytest

from tests.fixtures.hetzner import HetznerEmulator, ServerKeys, create_server, wait_for_health


def test_latency_is_off_by_default(hetzner: HetznerEmulator) -> None:
    assert hetzner.admin.get("/_admin/config")["server_latency"] == {}


def test_create_waits_out_the_type_latency_with_growing_progress(
    hetzner: HetznerEmulator, hcloud_client: hcloud.Client
) -> None:
    hetzner.admin.post(
        "/_admin/config",
        {"server_latency": {"cpx21": {"running": 1.5, "healthy": 0}, "*": {"running": 0}}},
    )
    started = time.monotonic()
    response = create_server(hcloud_client, "slow", wait=False)
    assert response.server.status == "initializing"
    progress = []
    while True:
        action = hcloud_client.actions.get_by_id(response.action.id)
        progress.append(action.progress)
        if action.status != "running":
            break
        assert hcloud_client.servers.get_by_id(response.server.id).status == "initializing"
        time.sleep(0.2)
    assert action.status == "success"
    assert time.monotonic() - started >= 1.4
    running = progress[:-1]
    assert running == sorted(running) and running[-1] > running[0], progress
    assert 0 < max(running) < 100 and progress[-1] == 100
    # The start_server next action finishes with the create: running at once after it.
    response.next_actions[0].wait_until_finished(max_retries=50)
    assert hcloud_client.servers.get_by_id(response.server.id).status == "running"

    # Another type is not slowed down ("*" running 0).
    started = time.monotonic()
    create_server(hcloud_client, "quick", server_type="ccx13")
    assert time.monotonic() - started < 1.2


def test_hcloud_wait_until_finished_polls_through_the_latency(
    hetzner: HetznerEmulator,
) -> None:
    hetzner.admin.post("/_admin/config", {"server_latency": {"*": {"running": 1.0}}})
    client = hetzner.client(poll_interval=0.1)
    response = create_server(client, "polled", wait=False)
    response.action.wait_until_finished(max_retries=100)
    assert response.action.status == "success" and response.action.progress == 100
    for action in response.next_actions:
        action.wait_until_finished(max_retries=100)
    assert client.servers.get_by_id(response.server.id).status == "running"


def test_health_and_cloud_init_wait_for_the_boot_to_health_delay(
    hetzner: HetznerEmulator,
    hcloud_client: hcloud.Client,
    server_keys: ServerKeys,
    tmp_path: Path,
) -> None:
    hetzner.admin.post("/_admin/config", {"server_latency": {"*": {"running": 0, "healthy": 2}}})
    response = create_server(hcloud_client, "booting", user_data=server_keys.user_data())
    up_at = time.monotonic()
    ip = response.server.public_net.ipv4.ip
    wait_for_health(ip, status=503, timeout=5)
    body = httpx.get(f"http://{ip}/health", timeout=1).json()
    assert body["status"] == "booting"

    async def cloud_init(command: str) -> str:
        known = server_keys.known_hosts(tmp_path / "known_hosts", ip)
        async with await server_keys.connect(ip, known) as conn:
            return str((await conn.run(command, check=True)).stdout).strip()

    assert asyncio.run(cloud_init("cloud-init status")) == "status: running"
    assert asyncio.run(cloud_init("cloud-init status --wait")) == "status: done"
    assert time.monotonic() - up_at >= 1.8
    wait_for_health(ip, status=200, timeout=3)
    assert hetzner.machine(response.server.id)["healthy_in"] == 0


@pytest.mark.parametrize("flag", ["cpx21", "cpx21=1", "=1:2", "cpx21=a:b"])
def test_latency_flag_refuses_malformed_values(flag: str) -> None:
    from devstack.hetzner.__main__ import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--latency", flag])


def test_latency_flag_parses_types() -> None:
    from devstack.hetzner.__main__ import parse_args

    config = parse_args(["--latency", "*=45:20", "--latency", "ccx13=50:25"])
    assert config.latency_for("cpx21").running == 45
    assert config.latency_for("ccx13").healthy == 25
