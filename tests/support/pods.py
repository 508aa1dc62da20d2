"""Driving pods through the API on the real stack: create, wait for a status, look at Docker."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import httpx

from tests.fixtures.stack import Stack
from tests.support.poll import eventually

POD_CONFIG = """
template: base
services:
  - name: http
    port: 8080
env:
  GREETING: hello
secrets:
  API_TOKEN: s3cret-token
"""


def wait(
    stack: Stack,
    key: str,
    pod_id: str,
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 60,
) -> dict[str, Any]:
    with stack.api.client(key) as http:
        pod: dict[str, Any] = eventually(
            lambda: dict(http.get(f"/v1/pods/{pod_id}").json()),
            until=until,
            timeout=timeout,
            what=lambda last: f"pod stuck at {last}\n{stack.worker_logs()}",
        )
    return pod


def status(*wanted: str) -> Callable[[dict[str, Any]], bool]:
    return lambda pod: pod["status"] in wanted


def docker(stack: Stack, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert stack.pod_hosts is not None
    return subprocess.run(
        ["docker", "-H", stack.pod_hosts.docker_host, *args],
        capture_output=True,
        text=True,
        check=check,
    )


def containers_of(stack: Stack, pod_id: str) -> list[str]:
    out = docker(stack, "ps", "-a", "-q", "--filter", f"label=tenantry.pod={pod_id}").stdout
    return out.split()


def create(stack: Stack, key: str, name: str, config: str = POD_CONFIG) -> str:
    with stack.api.client(key) as http:
        response = http.post("/v1/pods", json={"name": name, "tier": "dev.small", "config": config})
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "creating"
    return str(response.json()["pod_id"])


def get_ok(url: str) -> httpx.Response:
    """The first answer from `url` (any status), once something listens there."""
    response: httpx.Response = eventually(
        lambda: httpx.get(url, timeout=5),
        until=lambda _: True,
        timeout=5,
        what=f"an answer from {url}",
        ignoring=(httpx.TransportError,),
    )
    return response


def edge_get(stack: Stack, url: str, path: str = "/", timeout: float = 10) -> httpx.Response:
    """GET a pod's public URL through the stack's Caddy, with the URL's Host (no DNS)."""
    assert stack.caddy is not None, "build the stack with pods=True"
    host = httpx.URL(url).netloc.decode()
    return httpx.get(f"{stack.caddy.url}{path}", headers={"Host": host}, timeout=timeout)


def wait_edge(
    stack: Stack, url: str, path: str = "/", *, until: int = 200, timeout: float = 60
) -> httpx.Response:
    """Asks for the URL through the edge until it answers `until` (as a refreshing browser).

    A connection Caddy resets while it swaps its config (the waker's route for the pod's)
    is one more refresh for a browser, and so it is here.
    """
    response: httpx.Response = eventually(
        lambda: edge_get(stack, url, path),
        until=lambda r: r.status_code == until,
        timeout=timeout,
        what=lambda last: (
            f"{url}{path} still answers "
            + (
                f"{last.status_code}: {last.text[:300]}"
                if isinstance(last, httpx.Response)
                else repr(last)
            )
            + f"\n{stack.worker_logs()}"
        ),
        interval=0.2,
        ignoring=(httpx.TransportError,),
    )
    return response


def edge_route(stack: Stack, pod_id: str, service: str = "http") -> dict[str, Any] | None:
    """The pod's route in Caddy's config, as the admin API shows it (None: no route)."""
    assert stack.caddy is not None
    response = httpx.get(f"{stack.caddy.admin_url}/id/pod-{pod_id}-{service}", timeout=10)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    route: dict[str, Any] = response.json()
    return route
