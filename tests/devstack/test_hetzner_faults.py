"""Fault injection and the rate limit, seen through hcloud's own retry behaviour.

hcloud retries 429/502/504 (and ``rate_limit_exceeded``, ``conflict``, ``timeout``) with
a backoff of 1 s doubling: ``times`` stays small to keep these tests fast.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import hcloud
import pytest
import requests
from hcloud import APIException

from devstack.faults import FaultRule
from tests.fixtures.hetzner import HetznerEmulator, create_server


def test_injected_error_reaches_the_client(
    hetzner: HetznerEmulator, hcloud_client: hcloud.Client
) -> None:
    hetzner.admin.inject(FaultRule(operation="servers.create", status=503, code="unavailable",
                                   message="try later", times=1))  # fmt: skip
    with pytest.raises(APIException) as err:
        create_server(hcloud_client, "x", wait=False)
    assert (err.value.code, err.value.message) == ("unavailable", "try later")
    assert hcloud_client.servers.get_all() == []
    assert create_server(hcloud_client, "x", wait=False).server.name == "x"


def test_latency(hetzner: HetznerEmulator, hcloud_client: hcloud.Client) -> None:
    hetzner.admin.inject(FaultRule(operation="servers.list", action="latency", latency_ms=400))
    started = time.monotonic()
    hcloud_client.servers.get_all()
    assert time.monotonic() - started >= 0.4


def test_dropped_response_after_the_effect(
    hetzner: HetznerEmulator, hcloud_client: hcloud.Client
) -> None:
    """The dangerous case: the client sees a network error although the server exists."""
    hetzner.admin.inject(FaultRule(operation="servers.create", action="drop", times=1))
    with pytest.raises(requests.exceptions.ConnectionError):
        create_server(hcloud_client, "ghost", wait=False)
    adopted = hcloud_client.servers.get_by_name("ghost")
    assert adopted is not None
    with pytest.raises(APIException) as err:  # retrying blindly hits the unique name
        create_server(hcloud_client, "ghost", wait=False)
    assert err.value.code == "uniqueness_error"
    assert [r.fault for r in hetzner.admin.requests("servers.create")] == ["drop", None]


@pytest.mark.parametrize(
    ("status", "code"), [(429, "rate_limit_exceeded"), (502, "bad_gateway"), (504, "timeout")]
)
def test_hcloud_retries_transient_errors(
    hetzner: HetznerEmulator, hcloud_client: hcloud.Client, status: int, code: str
) -> None:
    hetzner.admin.inject(FaultRule(operation="servers.list", status=status, code=code, times=1))
    assert hcloud_client.servers.get_all() == []
    statuses = [r.status for r in hetzner.admin.requests("servers.list")]
    assert statuses == [status, 200]


def _record_headers(client: hcloud.Client) -> list[dict[str, str]]:
    """Reads what hcloud receives, via a response hook on its own requests session."""
    seen: list[dict[str, str]] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        seen.append(dict(response.headers))

    client._client._session.hooks["response"].append(hook)
    return seen


def test_rate_limit_headers_and_429(hetzner: HetznerEmulator, hcloud_client: hcloud.Client) -> None:
    seen = _record_headers(hcloud_client)
    hcloud_client.locations.get_all()
    assert seen[-1]["RateLimit-Limit"] == "3600"
    assert int(seen[-1]["RateLimit-Remaining"]) <= 3599
    assert int(seen[-1]["RateLimit-Reset"]) >= int(time.time())

    hetzner.admin.post("/_admin/config", {"rate_limit": 2})
    hcloud_client.locations.get_all()
    hcloud_client.locations.get_all()
    # Lift the limit while hcloud backs off from the 429 it is about to get.
    lifter = threading.Timer(0.5, hetzner.admin.post, ("/_admin/config", {"rate_limit": 3600}))
    lifter.start()
    hcloud_client.locations.get_all()
    lifter.join()
    limited = [
        h for h in seen if h.get("RateLimit-Remaining") == "0" and h["RateLimit-Limit"] == "2"
    ]
    assert limited, "expected a response at the limit"
    statuses = [r.status for r in hetzner.admin.requests("locations.list")]
    assert 429 in statuses and statuses[-1] == 200
