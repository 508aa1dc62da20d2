"""Host credentials and admin states on the real stack: join tokens, a credential per host
that acts only as that host, approval, cordon, drain and removal.

Hosts register through the API as their agent would (`Stack.register_pod_host`); the
agent process itself, with its saved credential, is in test_host_agent.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from tests.fixtures.api import EDGE_TOKEN
from tests.fixtures.stack import Stack
from tests.support.pods import containers_of, create, docker, status, wait


def register_body(stack: Stack, index: int) -> dict[str, Any]:
    assert stack.pod_hosts is not None
    host = stack.pod_hosts.hosts[index]
    return {
        "name": host.name,
        "address": host.address,
        "ssh_port": host.port,
        "ssh_host_key": stack.host_public_key(index),
        "capacity_cpu_millis": 4000,
        "capacity_memory_mb": 8192,
    }


def admin_hosts(stack: Stack) -> dict[str, dict[str, Any]]:
    with stack.api.admin() as admin:
        return {h["name"]: h for h in admin.get("/v1/admin/hosts").json()["data"]}


def admin_post(stack: Stack, path: str) -> Any:
    with stack.api.admin() as admin:
        response = admin.post(path)
    assert response.status_code == 200, response.text
    return response.json()


def test_join_tokens_are_single_use_expire_and_a_new_host_is_pending(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory(pods=True, start_worker=False)
    body = register_body(stack, 0)
    with stack.api.client() as anonymous:
        assert anonymous.post("/v1/hosts/register", json=body).status_code == 401
    with stack.api.client("tntj_not-a-token") as http:
        assert http.post("/v1/hosts/register", json=body).status_code == 401
    # The edge token is no join token either.
    with stack.api.client(EDGE_TOKEN) as http:
        assert http.post("/v1/hosts/register", json=body).status_code == 401

    expired = stack.mint_join_token(ttl_seconds=1)
    time.sleep(1.5)
    with stack.api.client(expired) as http:
        refused = http.post("/v1/hosts/register", json=body)
    assert refused.status_code == 401, refused.text

    token = stack.mint_join_token(approved=False)
    with stack.api.client(token) as http:
        first = http.post("/v1/hosts/register", json=body)
        assert first.status_code == 200, first.text
        # Used once: not again, not even for another host.
        again = http.post("/v1/hosts/register", json=register_body(stack, 1))
        assert again.status_code == 401, again.text
    registered = first.json()
    assert registered["state"] == "pending" and registered["available"] is False
    assert registered["credential"].startswith("tnth_")
    hosts = admin_hosts(stack)
    assert set(hosts) == {body["name"]}
    assert "credential" not in hosts[body["name"]]

    # The credential is what the host uses from now on; the join token stays spent.
    with stack.api.client(registered["credential"]) as http:
        beat = http.post(
            f"/v1/hosts/{registered['host_id']}/heartbeat",
            json={"ssh_host_key": body["ssh_host_key"]},
        )
        assert beat.status_code == 200, beat.text
        assert http.post("/v1/hosts/register", json=body).status_code == 401

    approved = admin_post(stack, f"/v1/admin/hosts/{registered['host_id']}/approve")
    assert approved["state"] == "approved" and approved["available"] is True


def test_placement_follows_the_admin_and_a_host_acts_only_as_itself(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory(pods=True)
    assert stack.pod_hosts is not None
    first = stack.register_pod_host(0, approved=False)  # host-1: pending
    second = stack.register_pod_host(1)  # host-2: approved by its token
    key = stack.new_account("placement@example.com")

    # host-1 would win (least loaded, first by name), but it is pending.
    on_second = create(stack, key, "one")
    pod = wait(stack, key, on_second, status("running", "failed"))
    assert pod["status"] == "running", pod["error"]
    assert pod["host"] == "host-2"

    admin_post(stack, f"/v1/admin/hosts/{first['host_id']}/approve")
    on_first = create(stack, key, "two")
    pod = wait(stack, key, on_first, status("running", "failed"))
    assert pod["status"] == "running", pod["error"]
    assert pod["host"] == "host-1"

    # Cordoned, host-1 (still the least loaded) gets no new pod; its pod keeps running.
    cordoned = admin_post(stack, f"/v1/admin/hosts/{first['host_id']}/cordon")
    assert cordoned["state"] == "cordoned" and cordoned["available"] is False
    third = create(stack, key, "three")
    pod = wait(stack, key, third, status("running", "failed"))
    assert pod["status"] == "running", pod["error"]
    assert pod["host"] == "host-2"
    with stack.api.client(key) as http:
        assert http.get(f"/v1/pods/{on_first}").json()["status"] == "running"

    # A host's credential acts only for that host.
    _, credential = stack.host_credentials["host-1"]
    key_1 = stack.host_public_key(0)
    with stack.api.client(credential) as host_1:
        other = host_1.post(
            f"/v1/hosts/{second['host_id']}/heartbeat",
            json={"ssh_host_key": stack.host_public_key(1)},
        )
        assert other.status_code == 403, other.text
        elsewhere = host_1.post("/v1/hosts/activity", json={"source": "ssh", "pods": [on_second]})
        assert elsewhere.status_code == 403, elsewhere.text
        mine = host_1.post("/v1/hosts/activity", json={"source": "ssh", "pods": [on_first]})
        assert mine.status_code == 200, mine.text
        assert mine.json()["kept_alive"] == [on_first]
    # The pinned key is required on every heartbeat, and must be the pinned one.
    no_key = stack.heartbeat(0, ssh_host_key=None)
    assert no_key.status_code == 422, no_key.text
    wrong_key = stack.heartbeat(0, ssh_host_key=stack.host_public_key(1))
    assert wrong_key.status_code == 409, wrong_key.text
    assert wrong_key.json()["error"]["code"] == "host_key_mismatch"
    # Upstreams must be on the host's registered address.
    address = stack.pod_hosts.hosts[0].address
    assert stack.heartbeat(0, upstreams=[f"{address}:32768"]).status_code == 200
    foreign = stack.heartbeat(0, upstreams=[f"{address}:32768", "10.9.8.7:22"])
    assert foreign.status_code == 403, foreign.text
    assert foreign.json()["error"]["code"] == "upstream_not_host_address"
    # The edge token reports traffic and nothing else.
    with stack.api.client(EDGE_TOKEN) as edge:
        traffic = edge.post("/v1/hosts/activity", json={"source": "proxy", "pods": [on_second]})
        assert traffic.status_code == 200, traffic.text
        ssh = edge.post("/v1/hosts/activity", json={"source": "ssh", "pods": [on_second]})
        assert ssh.status_code == 403, ssh.text
        beat = edge.post(f"/v1/hosts/{second['host_id']}/heartbeat", json={"ssh_host_key": key_1})
        assert beat.status_code == 401, beat.text

    # A host with pods on it cannot be removed.
    with stack.api.admin() as admin:
        refused = admin.delete(f"/v1/admin/hosts/{first['host_id']}")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "host_not_empty"

    with stack.api.client(key) as http:
        for pod_id in (on_first, on_second, third):
            assert http.delete(f"/v1/pods/{pod_id}").status_code == 202
    for pod_id in (on_first, on_second, third):
        wait(stack, key, pod_id, status("destroyed"))


def test_drain_empties_a_host_and_its_pods_restore_elsewhere_with_their_workspaces(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory(pods=True)
    first = stack.register_pod_host(0)
    stack.register_pod_host(1)
    key = stack.new_account("drain@example.com")
    # Both on host-1: host-2 is cordoned before they are placed.
    second_id = stack.host_credentials["host-2"][0]
    admin_post(stack, f"/v1/admin/hosts/{second_id}/cordon")
    pods = [create(stack, key, f"w{i}") for i in range(2)]
    notes = {}
    for pod_id in pods:
        pod = wait(stack, key, pod_id, status("running", "failed"))
        assert pod["status"] == "running", pod["error"]
        assert pod["host"] == "host-1"
        notes[pod_id] = uuid.uuid4().hex
        docker(stack, "exec", f"pod-{pod_id}", "sh", "-c", f"echo {notes[pod_id]} > /workspace/n")
    admin_post(stack, f"/v1/admin/hosts/{second_id}/approve")

    drained = admin_post(stack, f"/v1/admin/hosts/{first['host_id']}/drain")
    assert sorted(drained["hibernating"]) == sorted(pods), drained
    assert drained["failed"] == {}
    assert drained["host"]["available"] is False
    for pod_id in pods:
        pod = wait(stack, key, pod_id, status("hibernated", "failed"), timeout=90)
        assert pod["status"] == "hibernated", pod["error"]
        assert containers_of(stack, pod_id) == []
    assert admin_hosts(stack)["host-1"]["state"] == "drained"

    # Restored on demand: elsewhere, with every workspace as it was.
    with stack.api.client(key) as http:
        for pod_id in pods:
            assert http.post(f"/v1/pods/{pod_id}/restore").status_code == 202
    for pod_id in pods:
        pod = wait(stack, key, pod_id, status("running", "failed"), timeout=90)
        assert pod["status"] == "running", pod["error"]
        assert pod["host"] == "host-2"
        kept = docker(stack, "exec", f"pod-{pod_id}", "cat", "/workspace/n").stdout
        assert kept.strip() == notes[pod_id]

    # Empty now: it can be removed, and its credential dies with it.
    with stack.api.admin() as admin:
        removed = admin.delete(f"/v1/admin/hosts/{first['host_id']}")
    assert removed.status_code == 200, removed.text
    assert "host-1" not in admin_hosts(stack)
    assert stack.heartbeat(0).status_code == 401

    with stack.api.client(key) as http:
        for pod_id in pods:
            assert http.delete(f"/v1/pods/{pod_id}").status_code == 202
    for pod_id in pods:
        wait(stack, key, pod_id, status("destroyed"))
