"""Shared helpers for the pod tests: a client wired to the test hosts and moto, pod specs."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tenantry.clients.podhost import PodHostClient
from tenantry.contracts.podhost import ContainerRef, ExecInput, PodHostRef, PodSpec
from tests.fixtures.moto import AwsResources
from tests.fixtures.podhosts import PodHosts
from tests.fixtures.stack import Stack
from tests.support.poll import eventually_async

PART_SIZE = 5 * 1024 * 1024


def new_spec(**overrides: Any) -> PodSpec:
    values: dict[str, Any] = {
        "pod_id": f"p{uuid.uuid4().hex[:10]}",
        "account_id": "acct-1",
        "env": {"API_TOKEN": "s3cret-token"},
        **overrides,
    }
    return PodSpec(**values)


@pytest.fixture
def pod_stack(stack_factory: Callable[..., Stack]) -> Stack:
    """The whole stack with both test pod hosts registered, as their host agents would."""
    stack = stack_factory(pods=True)
    stack.register_pod_hosts()
    return stack


@pytest.fixture
def hosts(pod_hosts: PodHosts) -> Iterator[PodHosts]:
    pod_hosts.ensure_running()
    yield pod_hosts
    pod_hosts.ensure_running()


@pytest.fixture
def client(hosts: PodHosts, aws: AwsResources) -> PodHostClient:
    return PodHostClient(
        ssh_key_path=hosts.client_key,
        known_hosts=hosts.known_hosts,
        s3=aws.s3(),
        part_size=PART_SIZE,
        connect_timeout=5,
        isolation=hosts.isolation(),
    )


def local_docker(hosts: PodHosts, *args: str) -> str:
    """Looks at the daemon directly (not through the code under test)."""
    return subprocess.run(
        ["docker", "-H", hosts.docker_host, *args], capture_output=True, text=True, check=True
    ).stdout


def leftover_env_files() -> list[Path]:
    """Env files the client wrote over SFTP (the hosts are this machine)."""
    return list(Path("/tmp").glob("tenantry-env-*"))


async def lingering_env_files(within: float = 15) -> list[Path]:
    """Env files that stay on the host. A pod another test file creates meanwhile (on the
    other xdist worker) has its own for a moment, so a file seen now counts only if it is
    still there `within` seconds later."""
    seen = leftover_env_files()
    deadline = time.monotonic() + within
    while seen and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        seen = [path for path in seen if path.exists()]
    return seen


def inspect(hosts: PodHosts, name: str) -> dict[str, Any] | None:
    result = subprocess.run(
        ["docker", "-H", hosts.docker_host, "inspect", name], capture_output=True, text=True
    )
    if result.returncode != 0:
        return None
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data[0]


async def sh(client: PodHostClient, host: PodHostRef, pod_id: str, script: str) -> str:
    argv = ["sh", "-c", script]
    result = await client.exec_in_pod(ExecInput(host=host, pod_id=pod_id, argv=argv))
    assert result.exit_status == 0, result.stderr
    return result.stdout


async def http_get(url: str, attempts: int = 50) -> httpx.Response:
    """GET with a short retry: httpd may need a moment after the container starts."""
    async with httpx.AsyncClient(timeout=5) as http:
        response: httpx.Response = await eventually_async(
            lambda: http.get(url),
            until=lambda _: True,
            timeout=attempts * 0.05,
            what=f"an answer from {url}",
            interval=0.05,
            ignoring=(httpx.TransportError,),
        )
    return response


async def remove_pod(client: PodHostClient, host: PodHostRef, pod_id: str) -> None:
    ref = ContainerRef(host=host, pod_id=pod_id)
    await client.remove_container_if_present(ref)
    await client.remove_workspace_if_present(ref)
