"""The emulated server's stack has a version: `tenantry-stack version|deploy <tag>` over
SSH, `/health` reporting the tag, and tags the emulator was told are broken failing."""

from __future__ import annotations

import time
from pathlib import Path

import hcloud
import httpx

from devstack.hetzner.stack import START_DELAY
from tests.fixtures.hetzner import HetznerEmulator, ServerKeys, create_server, wait_for_health

COMPOSE = (
    "services:\n  app:\n    image: registry.example:5000/tenant-app:1.0\n    ports: ['80:8080']\n"
)


async def test_deploy_changes_the_running_tag_and_bad_tags_fail_health(
    hetzner: HetznerEmulator, hcloud_client: hcloud.Client, server_keys: ServerKeys,
    tmp_path: Path,
) -> None:  # fmt: skip
    files = [{"path": "/opt/tenantry/docker-compose.yml", "content": COMPOSE}]
    response = create_server(hcloud_client, "tenant-v", user_data=server_keys.user_data(files))
    ip = response.server.public_net.ipv4.ip
    known_hosts = server_keys.known_hosts(tmp_path / "known_hosts", ip)
    wait_for_health(ip, 200)
    assert httpx.get(f"http://{ip}/health").json()["version"] == "1.0"

    async with await server_keys.connect(ip, known_hosts) as conn:
        assert (await conn.run("tenantry-stack version", check=True)).stdout == "1.0\n"
        deployed = await conn.run("tenantry-stack deploy 1.1", check=True)
        assert deployed.stdout == "tenant stack deployed 1.1 (was 1.0)\n"
        wait_for_health(ip, 200)
        assert httpx.get(f"http://{ip}/health").json()["version"] == "1.1"
        compose = (await conn.run("cat /opt/tenantry/docker-compose.yml", check=True)).stdout
        assert "image: registry.example:5000/tenant-app:1.1" in str(compose)
        same = await conn.run("tenantry-stack deploy 1.1", check=True)
        assert same.stdout == "tenant stack already runs 1.1\n"
        assert (await conn.run("tenantry-stack deploy 'x;rm -rf /'")).exit_status == 2

        hetzner.admin.post("/_admin/config", {"failing_stack_tags": ["2.0-bad"]})
        await conn.run("tenantry-stack deploy 2.0-bad", check=True)
        time.sleep(START_DELAY + 0.1)  # past "starting": it runs, and never answers healthy
        assert httpx.get(f"http://{ip}/health").json() == {
            "status": "failing", "stack": "running", "version": "2.0-bad",
        }  # fmt: skip
        await conn.run("tenantry-stack deploy 1.1", check=True)
        wait_for_health(ip, 200)


async def test_a_server_without_a_stack_has_no_version(
    hetzner: HetznerEmulator, hcloud_client: hcloud.Client, server_keys: ServerKeys,
    tmp_path: Path,
) -> None:  # fmt: skip
    response = create_server(hcloud_client, "bare", user_data=server_keys.user_data())
    ip = response.server.public_net.ipv4.ip
    known_hosts = server_keys.known_hosts(tmp_path / "known_hosts", ip)
    wait_for_health(ip, 200)
    assert "version" not in httpx.get(f"http://{ip}/health").json()
    async with await server_keys.connect(ip, known_hosts) as conn:
        assert (await conn.run("tenantry-stack version")).exit_status == 1
        assert (await conn.run("tenantry-stack deploy 1.0")).exit_status == 1


async def test_a_failed_pull_changes_nothing_and_running_is_what_runs(
    hetzner: HetznerEmulator, hcloud_client: hcloud.Client, server_keys: ServerKeys,
    tmp_path: Path,
) -> None:  # fmt: skip
    files = [{"path": "/opt/tenantry/docker-compose.yml", "content": COMPOSE}]
    response = create_server(hcloud_client, "tenant-p", user_data=server_keys.user_data(files))
    ip = response.server.public_net.ipv4.ip
    known_hosts = server_keys.known_hosts(tmp_path / "known_hosts", ip)
    wait_for_health(ip, 200)
    hetzner.admin.post("/_admin/config", {"failing_pulls": {"1.2": 2}})

    async with await server_keys.connect(ip, known_hosts) as conn:
        assert (await conn.run("tenantry-stack running", check=True)).stdout == "1.0\n"
        pulled = await conn.run("tenantry-stack pull 1.2")
        assert pulled.exit_status == 1 and "1.2" in str(pulled.stderr)
        deployed = await conn.run("tenantry-stack deploy 1.2")  # pulls (fails) first
        assert deployed.exit_status == 1
        # Nothing moved: the file keeps its tag, the old version runs and answers.
        assert (await conn.run("tenantry-stack version", check=True)).stdout == "1.0\n"
        assert (await conn.run("tenantry-stack running", check=True)).stdout == "1.0\n"
        assert httpx.get(f"http://{ip}/health").json()["version"] == "1.0"
        assert hetzner.admin.get("/_admin/config")["failing_pulls"] == {}

        await conn.run("tenantry-stack pull 1.2", check=True)
        deployed = await conn.run("tenantry-stack deploy 1.2", check=True)
        assert deployed.stdout == "tenant stack deployed 1.2 (was 1.0)\n"
        assert (await conn.run("tenantry-stack running", check=True)).stdout == "1.2\n"
        wait_for_health(ip, 200)
        assert httpx.get(f"http://{ip}/health").json()["version"] == "1.2"
        await conn.run("tenantry-stack stop", check=True)
        assert (await conn.run("tenantry-stack running", check=True)).stdout == ""
