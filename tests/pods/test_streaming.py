"""Snapshots stream: a 50 MB workspace never sits in the control plane's memory whole."""

from __future__ import annotations

import tracemalloc

from tenantry.clients.podhost import PodHostClient
from tenantry.contracts.podhost import RestoreInput, RunContainerInput, SnapshotInput
from tests.fixtures.moto import AwsResources
from tests.fixtures.podhosts import PodHosts
from tests.pods.conftest import PART_SIZE, new_spec, remove_pod, sh

WORKSPACE_MB = 50


async def test_large_workspace_streams_in_parts_both_ways(
    client: PodHostClient, hosts: PodHosts, aws: AwsResources
) -> None:
    host_a, host_b = hosts.ref(0), hosts.ref(1)
    run = RunContainerInput(host=host_a, spec=new_spec())
    await client.run_container(run)
    pod = run.spec.pod_id
    # Random bytes do not compress: the snapshot is as large as the workspace.
    await sh(
        client,
        host_a,
        pod,
        # fullblock: under gVisor a read of /dev/urandom may return less than 1M.
        f"dd if=/dev/urandom of=/workspace/big bs=1M count={WORKSPACE_MB} iflag=fullblock"
        " 2>/dev/null",
    )
    checksum = await sh(client, host_a, pod, "sha256sum /workspace/big")

    tracemalloc.start()
    try:
        snap = await client.snapshot_to_s3(
            SnapshotInput(host=host_a, pod_id=pod, bucket=aws.bucket, key=f"{pod}.zst")
        )
        _, snapshot_peak = tracemalloc.get_traced_memory()
        await remove_pod(client, host_a, pod)
        tracemalloc.reset_peak()
        await client.restore_from_s3(RestoreInput(host=host_b, spec=run.spec, snapshot=snap.ref()))
        _, restore_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert snap.size > WORKSPACE_MB * 1024 * 1024
    # Uploaded part by part, not in one piece; every part but the last is exactly a part.
    assert snap.parts == -(-snap.size // PART_SIZE)
    # The whole snapshot would be 50+ MB (10 parts). Uploading holds the part in flight
    # (and what botocore keeps of it), at most half a part read ahead and the SSH window:
    # measured 2.6-2.9 parts (up to 3.4 while a part was still joined from its chunks).
    assert snapshot_peak < 3.5 * PART_SIZE, snapshot_peak
    assert restore_peak < 3 * PART_SIZE, restore_peak
    assert await sh(client, host_b, pod, "sha256sum /workspace/big") == checksum
    await remove_pod(client, host_b, pod)
