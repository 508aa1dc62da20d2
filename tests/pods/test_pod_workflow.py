"""Pods through the API and a real worker on the real stack: sshd pod hosts, Docker, moto S3,
and Caddy as the edge (requests carry the pod's Host; no DNS needed)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from temporalio.client import Client
from temporalio.worker import Replayer

from db.models import Pod, PodEvent
from db.session import make_engine
from tenantry.clients.temporal import DATA_CONVERTER
from tenantry.rules.edge_names import account_handle
from tests.fixtures.stack import Stack
from tests.support.pods import (
    containers_of,
    create,
    docker,
    edge_get,
    edge_route,
    status,
    wait,
    wait_edge,
)
from worker.registry import workflows


async def test_pod_lives_hibernates_and_restores_on_the_other_host(
    pod_stack: Stack, temporal_client: Client
) -> None:
    stack = pod_stack
    assert stack.pod_hosts is not None
    key = stack.new_account("alice@example.com")
    pod_id = create(stack, key, "alice-dev")

    pod = wait(stack, key, pod_id, status("running", "failed"))
    assert pod["status"] == "running", pod["error"]
    first_host = pod["host"]
    assert first_host == stack.pod_hosts.hosts[0].name  # least loaded; ties by name
    container = f"pod-{pod_id}"
    # The secret reached the container as environment, and only there.
    env = docker(stack, "exec", container, "sh", "-c", "echo $API_TOKEN $GREETING").stdout
    assert env.strip() == "s3cret-token hello"
    assert "s3cret-token" not in json.dumps(pod)
    docker(stack, "exec", container, "sh", "-c", "echo kept > /workspace/note.txt")
    # Its service URL is public at the edge and answers through Caddy.
    assert stack.caddy is not None
    url = pod["urls"]["http"]
    engine = make_engine(stack.settings.database_url)
    try:
        with engine.connect() as db:
            account_id = db.execute(select(Pod.account_id).where(Pod.id == pod_id)).scalar_one()
    finally:
        engine.dispose()
    domain, port = stack.settings.pod_base_domain, stack.caddy.port
    assert url == f"http://http-alice-dev-{account_handle(account_id)}.{domain}:{port}"
    assert wait_edge(stack, url, "/note.txt").text == "kept\n"

    with stack.api.client(key) as http:
        # Keepalive counts as activity; restore of a running pod changes nothing.
        assert http.post(f"/v1/pods/{pod_id}/keepalive").status_code == 202
        assert http.get(f"/v1/pods/{pod_id}").json()["last_activity_source"] == "api"
        # Hibernate; a restore while that is under way conflicts.
        response = http.post(f"/v1/pods/{pod_id}/hibernate")
        assert response.status_code == 202, response.text
        conflict = http.post(f"/v1/pods/{pod_id}/restore")
        assert conflict.status_code == 409, conflict.text
        assert conflict.json()["error"]["code"] == "conflict"

    pod = wait(stack, key, pod_id, status("hibernated"))
    assert pod["host"] is None and pod["urls"] == {}
    # Its hostname now leads to the waker (not asked here: the restore below is ours).
    route = edge_route(stack, pod_id)
    assert route is not None and route["handle"][0] == {
        "handler": "rewrite",
        "uri": "/v1/edge/wake",
    }
    assert containers_of(stack, pod_id) == []
    snapshot = pod["snapshot"]
    stored = stack.aws.s3().get_object(Bucket=stack.aws.bucket, Key=snapshot["key"])["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == snapshot["sha256"]
    assert len(stored) == snapshot["size"]

    with stack.api.client(key) as http:
        # A hibernated pod cannot be kept alive.
        assert http.post(f"/v1/pods/{pod_id}/keepalive").status_code == 409
        # The first host reports itself full: the pod comes back on the other one.
        first = next(i for i, h in enumerate(stack.pod_hosts.hosts) if h.name == first_host)
        full = stack.heartbeat(first, capacity_cpu_millis=0)
        assert full.status_code == 200, full.text
        assert http.post(f"/v1/pods/{pod_id}/restore").status_code == 202

    pod = wait(
        stack,
        key,
        pod_id,
        lambda p: p["status"] in ("running", "failed") or bool(p["error"]),
    )
    assert pod["status"] == "running", pod["error"]
    assert pod["host"] == stack.pod_hosts.hosts[1].name
    note = docker(stack, "exec", container, "cat", "/workspace/note.txt").stdout
    assert note == "kept\n"
    # Re-routed: the same URL answers, now from the other host.
    assert pod["urls"]["http"] == url
    route = edge_route(stack, pod_id)
    assert route is not None
    upstream = route["handle"][0]["upstreams"][0]["dial"]
    assert upstream.startswith(stack.pod_hosts.hosts[1].address + ":"), route
    assert wait_edge(stack, url, "/note.txt").text == "kept\n"

    with stack.api.client(key) as http:
        assert http.delete(f"/v1/pods/{pod_id}").status_code == 202
    pod = wait(stack, key, pod_id, status("destroyed"))
    assert containers_of(stack, pod_id) == []
    assert edge_route(stack, pod_id) is None
    gone = edge_get(stack, url, "/note.txt")
    assert gone.status_code == 404 and "No pod is served" in gone.text
    listed = stack.aws.s3().list_objects_v2(Bucket=stack.aws.bucket, Prefix="pods/")
    assert listed.get("KeyCount", 0) == 0
    engine = make_engine(stack.settings.database_url)
    try:
        with engine.connect() as db:
            row = db.execute(select(Pod.secrets).where(Pod.id == pod_id)).one()
            kinds = db.execute(
                select(PodEvent.kind).where(PodEvent.pod_id == pod_id).order_by(PodEvent.id)
            ).scalars()
            events = list(kinds)
    finally:
        engine.dispose()
    assert row.secrets is None
    assert events == [
        "creating",
        "running",
        "hibernating",
        "hibernated",
        "restoring",
        "running",
        "destroying",
        "destroyed",
    ]

    history = await temporal_client.get_workflow_handle(f"pod-{pod_id}").fetch_history()
    await Replayer(workflows=workflows(), data_converter=DATA_CONVERTER).replay_workflow(history)
    if os.environ.get("TENANTRY_RECORD_HISTORIES"):
        target = Path(__file__).parents[1] / "replay" / "histories" / "pod-lifecycle.json"
        target.write_text(history.to_json())


def test_another_account_gets_404_on_every_route(pod_stack: Stack) -> None:
    stack = pod_stack
    key_a = stack.new_account("a@example.com")
    key_b = stack.new_account("b@example.com")
    pod_id = create(stack, key_a, "mine")
    with stack.api.client(key_b) as http:
        assert http.get("/v1/pods").json()["data"] == []
        for method, path in [
            ("GET", f"/v1/pods/{pod_id}"),
            ("POST", f"/v1/pods/{pod_id}/hibernate"),
            ("POST", f"/v1/pods/{pod_id}/restore"),
            ("POST", f"/v1/pods/{pod_id}/keepalive"),
            ("DELETE", f"/v1/pods/{pod_id}"),
            ("GET", "/v1/pods/not-a-uuid"),
        ]:
            response = http.request(method, path)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["error"]["code"] == "not_found"
    with stack.api.client(key_a) as http:
        assert [p["pod_id"] for p in http.get("/v1/pods").json()["data"]] == [pod_id]
        # A bad config names the field; the same name twice conflicts.
        bad = http.post(
            "/v1/pods",
            json={"name": "bad", "config": "services:\n  - name: web\n    port: 99999\n"},
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["details"]["fields"][0]["field"] == "config.services.0.port"
        twice = http.post("/v1/pods", json={"name": "mine", "config": {}})
        assert twice.status_code == 409
    # The CLI: account A sees its pod; account B's `show` is bad input (exit 2).
    tenantry = [str(Path(sys.executable).with_name("tenantry")), "pods"]
    api = ["--api-url", stack.api.url]
    shown = subprocess.run(
        [*tenantry, "show", pod_id, *api, "--token", key_a, "--json"],
        capture_output=True,
        text=True,
    )
    assert shown.returncode in (0, 1), shown.stderr  # 1 only if the pod failed
    assert json.loads(shown.stdout)["pod_id"] == pod_id
    other = subprocess.run(
        [*tenantry, "show", pod_id, *api, "--token", key_b], capture_output=True, text=True
    )
    assert other.returncode == 2 and "not found" in other.stderr
    destroyed = subprocess.run(
        [*tenantry, "destroy", pod_id, *api, "--token", key_a, "--json"],
        capture_output=True,
        text=True,
    )
    assert destroyed.returncode == 0, destroyed.stderr
    assert json.loads(destroyed.stdout)["status"] == "destroyed"


def test_worker_killed_during_hibernate_leaves_no_orphan(pod_stack: Stack) -> None:
    stack = pod_stack
    key = stack.new_account("crash@example.com")
    pod_id = create(stack, key, "crashy")
    wait(stack, key, pod_id, status("running"))
    with stack.api.client(key) as http:
        assert http.post(f"/v1/pods/{pod_id}/hibernate").status_code == 202
    wait(stack, key, pod_id, status("hibernating", "hibernated"), timeout=20)
    stack.kill_worker()
    stack.start_worker()
    pod = wait(stack, key, pod_id, status("hibernated", "running"), timeout=60)
    containers = containers_of(stack, pod_id)
    if pod["status"] == "hibernated":
        assert containers == []
        assert pod["snapshot"] is not None
    else:
        assert len(containers) == 1
