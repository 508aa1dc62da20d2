"""PodWorkflow's idle auto-hibernate: a running pod that sees no activity for its idle
timeout hibernates by itself (snapshot, verify, only then free or keep it on the host),
saying `idle`;
a keepalive pushes the deadline back.

The slow tier's counterpart (tests/pods/test_idle.py) runs a real container on a real
host with a 6 s timeout; here the host is a mock and an hour's timeout is skipped. The
keepalive is an update, which the test server does not support: that test runs on the
dev server with a timeout of seconds.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tenantry.contracts.pod import (
    PodActivity,
    PodHostCall,
    PodInput,
    PodKeepCachedInput,
    PodPlacement,
    PodRequest,
    PodRestoreInput,
    PodRoutes,
    PodRunInput,
    PodSnapshotInput,
    PodState,
    PodStatus,
    PodStatusChange,
    ReserveHostInput,
    SnapshotStatusChange,
)
from tenantry.contracts.podhost import (
    ContainerInfo,
    KeepCachedResult,
    PodHostRef,
    PodSpec,
    PublishedPort,
    SnapshotInfo,
    SnapshotRef,
    SnapshotVerification,
)
from tests.fast.mocks import Calls, mocked, worker
from tests.support.poll import eventually_async
from workflows.pod import PodWorkflow

pytestmark = pytest.mark.fast

HOST = PodHostRef(name="host-a", address="127.0.0.1", port=2222)
PLACEMENT = PodPlacement(host_id="host-a", host=HOST, host_key="ssh-ed25519 AAAA")
SHA = "ab" * 32


def pod_input(idle_timeout_seconds: int) -> PodInput:
    pod_id, account_id = str(uuid.uuid4()), str(uuid.uuid4())
    return PodInput(
        pod_id=pod_id,
        account_id=account_id,
        name="sleepy",
        spec=PodSpec(pod_id=pod_id, account_id=account_id),
        bucket="pod-snapshots",
        idle_timeout_seconds=idle_timeout_seconds,
    )


def container(pod_id: str) -> ContainerInfo:
    port = PublishedPort(
        name="http", container_port=8080, host_address="127.0.0.1", host_port=31001
    )
    return ContainerInfo(
        pod_id=pod_id, host=HOST, status="running", container_id="c-1", ports=[port]
    )


def snapshot(inp: PodSnapshotInput) -> SnapshotInfo:
    return SnapshotInfo(
        pod_id=inp.pod_id, bucket=inp.bucket, key=inp.key, size=1024, sha256=SHA, parts=1
    )


def pod_activities(calls: Calls) -> list[Any]:
    """A host with room, a container that runs, snapshots that store and verify."""
    return [
        mocked(calls, "pod_record_status", PodStatusChange),
        mocked(calls, "pod_record_activity", PodActivity),
        mocked(calls, "pod_record_snapshot", SnapshotStatusChange),
        mocked(calls, "pod_delete_keys", str),
        mocked(calls, "pod_reserve_host", ReserveHostInput, lambda _: PLACEMENT),
        mocked(calls, "pod_run_container", PodRunInput, lambda inp: container(inp.spec.pod_id)),
        mocked(calls, "pod_restore_from_s3", PodRestoreInput, lambda i: container(i.spec.pod_id)),
        mocked(
            calls,
            "pod_stop_container",
            PodHostCall,
            lambda call: container(call.pod_id).model_copy(update={"status": "exited"}),
        ),
        mocked(calls, "pod_snapshot_to_s3", PodSnapshotInput, snapshot),
        mocked(
            calls,
            "pod_verify_snapshot",
            SnapshotRef,
            lambda ref: SnapshotVerification(snapshot=ref, size=1024, rehashed=False),
        ),
        mocked(calls, "pod_remove_container_if_present", PodHostCall, lambda _: True),
        mocked(calls, "pod_remove_workspace_if_present", PodHostCall, lambda _: True),
        mocked(calls, "pod_keep_cached", PodKeepCachedInput, lambda _: KeepCachedResult(kept=True)),
        mocked(calls, "pod_delete_snapshot_if_present", SnapshotRef),
        mocked(calls, "edge_route_pod", PodRoutes, lambda _: []),
        mocked(calls, "edge_remove_pod_routes_if_present", str, lambda _: []),
    ]


async def pod_state(
    handle: WorkflowHandle[Any, Any], status: PodStatus, timeout: float = 10
) -> PodState:
    state: PodState = await eventually_async(
        lambda: handle.query(PodWorkflow.state),
        until=lambda s: s.status == status,
        timeout=timeout,
        what=f"the pod {status.value}",
    )
    return state


def check_idle_hibernation(calls: Calls, state: PodState) -> None:
    """Hibernated for idleness, with the snapshot safe before the host was freed."""
    assert state.error is None and state.host is None and state.urls == {}
    changes = calls.of("pod_record_status")
    assert [c.status for c in changes] == ["creating", "running", "hibernating", "hibernated"]
    assert [c.status_reason for c in changes[2:]] == ["idle", "idle"]
    (taken,) = calls.of("pod_snapshot_to_s3")
    assert state.snapshot == SnapshotRef(
        bucket="pod-snapshots", key=taken.key, sha256=SHA, size=1024
    )
    order = calls.names()
    assert (
        order.index("pod_stop_container")
        < order.index("pod_snapshot_to_s3")
        < order.index("pod_verify_snapshot")
        < order.index("pod_keep_cached")  # keeps the stopped pod on its host, or frees it
    )
    (kept,) = calls.of("pod_keep_cached")
    assert kept.snapshot == state.snapshot
    # From hibernating on, the pod's hostname goes to the waker.
    assert [r.targets for r in calls.of("edge_route_pod")] == [
        {"http": "127.0.0.1:31001"},
        {"http": None},
    ]


async def test_an_hour_without_activity_hibernates_the_pod(
    skipping_env: WorkflowEnvironment,
) -> None:
    calls = Calls()
    inp = pod_input(idle_timeout_seconds=3600)
    async with worker(skipping_env.client, [PodWorkflow], pod_activities(calls)) as run:
        handle = await run.start(PodWorkflow.run, inp, id=f"pod-{inp.pod_id}")
        running = await pod_state(handle, PodStatus.RUNNING)
        assert running.last_activity_source == "created"
        await skipping_env.sleep(timedelta(hours=2))
        state = await pod_state(handle, PodStatus.HIBERNATED)

    check_idle_hibernation(calls, state)
    # It went to sleep an hour after it started running, not sooner nor much later.
    assert running.last_activity is not None
    (stopped_at,) = calls.times("pod_stop_container")
    idle = stopped_at - running.last_activity
    assert timedelta(hours=1) <= idle < timedelta(hours=1, minutes=1)
    assert calls.of("pod_record_activity") == []


async def test_a_keepalive_pushes_the_idle_deadline_back(temporal_env: WorkflowEnvironment) -> None:
    calls = Calls()
    inp = pod_input(idle_timeout_seconds=3)
    async with worker(temporal_env.client, [PodWorkflow], pod_activities(calls)) as run:
        handle = await run.start(PodWorkflow.run, inp, id=f"pod-{inp.pod_id}")
        running = await pod_state(handle, PodStatus.RUNNING)
        await asyncio.sleep(1)  # a third of the way to the deadline
        kept = await handle.execute_update(PodWorkflow.keepalive, PodRequest(source="proxy"))
        assert kept.status == PodStatus.RUNNING and kept.last_activity_source == "proxy"
        state = await pod_state(handle, PodStatus.HIBERNATED, timeout=20)

    check_idle_hibernation(calls, state)
    (touched,) = calls.of("pod_record_activity")
    assert touched.source == "proxy" and touched.pod_id == inp.pod_id
    assert kept.last_activity == touched.at
    # The deadline counts from the keepalive, not from the start.
    assert running.last_activity is not None and touched.at > running.last_activity
    (stopped_at,) = calls.times("pod_stop_container")
    assert stopped_at - touched.at >= timedelta(seconds=3)
