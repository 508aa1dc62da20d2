"""Warm pods through the API and a real worker: a hibernated pod kept on its host comes back
there without a download (placement prefers that host), elsewhere when it is full, and a
destroy removes every kept copy."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from tests.fixtures.stack import Stack
from tests.support.pods import containers_of, create, docker, status, wait


async def restore_sources(client: Client, pod_id: str) -> list[str | None]:
    """Where each of the pod's restores came from ("cache" or "s3"), from its history."""
    history = await client.get_workflow_handle(f"pod-{pod_id}").fetch_history()
    restores: set[int] = set()
    found: list[str | None] = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            if attrs.activity_type.name == "pod_restore_from_s3":
                restores.add(event.event_id)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            done = event.activity_task_completed_event_attributes
            if done.scheduled_event_id in restores:
                found.append(json.loads(done.result.payloads[0].data).get("restored_from"))
    return found


async def test_a_hibernated_pod_wakes_on_its_host_from_the_kept_copy(
    stack_factory: Callable[..., Stack], temporal_client: Client
) -> None:
    stack = stack_factory(pods=True, pod_cache_budget_mb=4096)
    stack.register_pod_hosts()
    assert stack.pod_hosts is not None
    first, second = (h.name for h in stack.pod_hosts.hosts)
    key = stack.new_account("warm@example.com")
    pod_id = create(stack, key, "warm")
    pod = wait(stack, key, pod_id, status("running", "failed"))
    assert pod["status"] == "running" and pod["host"] == first, pod["error"]
    container = f"pod-{pod_id}"
    docker(stack, "exec", container, "sh", "-c", "echo warm > /workspace/note.txt")

    with stack.api.client(key) as http:
        assert http.post(f"/v1/pods/{pod_id}/hibernate").status_code == 202
    pod = wait(stack, key, pod_id, status("hibernated"))
    assert pod["host"] is None
    # Kept on its host, stopped: nothing runs and the host's share is free.
    [kept] = containers_of(stack, pod_id)
    assert docker(stack, "inspect", "-f", "{{.State.Status}}", kept).stdout.strip() == "exited"

    # Another pod makes the first host the busier one: the restore still goes there.
    other = create(stack, key, "other")
    assert wait(stack, key, other, status("running"))["host"] == first
    with stack.api.client(key) as http:
        assert http.post(f"/v1/pods/{pod_id}/restore").status_code == 202
    pod = wait(stack, key, pod_id, lambda p: p["status"] == "running" or bool(p["error"]))
    assert pod["status"] == "running" and pod["host"] == first, pod["error"]
    assert await restore_sources(temporal_client, pod_id) == ["cache"]
    assert docker(stack, "exec", container, "cat", "/workspace/note.txt").stdout == "warm\n"

    # Kept again, but its host is full: restored on the other host, downloaded.
    with stack.api.client(key) as http:
        assert http.post(f"/v1/pods/{pod_id}/hibernate").status_code == 202
    wait(stack, key, pod_id, status("hibernated"))
    index = next(i for i, h in enumerate(stack.pod_hosts.hosts) if h.name == first)
    assert stack.heartbeat(index, capacity_cpu_millis=0).status_code == 200
    with stack.api.client(key) as http:
        assert http.post(f"/v1/pods/{pod_id}/restore").status_code == 202
    pod = wait(stack, key, pod_id, lambda p: p["status"] == "running" or bool(p["error"]))
    assert pod["status"] == "running" and pod["host"] == second, pod["error"]
    assert await restore_sources(temporal_client, pod_id) == ["cache", "s3"]
    assert docker(stack, "exec", container, "cat", "/workspace/note.txt").stdout == "warm\n"

    # Hibernated once more (kept on the second host), then destroyed: no copy is left.
    with stack.api.client(key) as http:
        assert http.post(f"/v1/pods/{pod_id}/hibernate").status_code == 202
    wait(stack, key, pod_id, status("hibernated"))
    assert len(containers_of(stack, pod_id)) == 1
    with stack.api.client(key) as http:
        assert http.delete(f"/v1/pods/{pod_id}").status_code == 202
        assert http.delete(f"/v1/pods/{other}").status_code == 202
    wait(stack, key, pod_id, status("destroyed"))
    wait(stack, key, other, status("destroyed"))
    assert containers_of(stack, pod_id) == []
    root = Path(stack.settings.pod_workspace_root)
    assert sorted(p.name for p in root.glob(f"{pod_id}*")) == []
