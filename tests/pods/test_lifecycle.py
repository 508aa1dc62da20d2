"""A pod's life across two real hosts: run on A, snapshot to S3, restore on B."""

from __future__ import annotations

import hashlib

from tenantry.clients.podhost import PodHostClient
from tenantry.contracts.podhost import (
    ContainerRef,
    RestoreInput,
    RunContainerInput,
    SnapshotInput,
    StopContainerInput,
    VerifySnapshotInput,
)
from tests.fixtures.moto import AwsResources
from tests.fixtures.podhosts import PodHosts
from tests.pods.conftest import http_get, inspect, lingering_env_files, new_spec, remove_pod, sh


async def test_run_snapshot_restore_on_another_host(
    client: PodHostClient, hosts: PodHosts, aws: AwsResources
) -> None:
    host_a, host_b = hosts.ref(0), hosts.ref(1)
    spec = new_spec()

    # Run on A: resources, labels, runtime and ports as the tier and spec say.
    info = await client.run_container(RunContainerInput(host=host_a, spec=spec))
    assert info.status == "running"
    assert info.runtime == "runsc"  # the default: gVisor
    [http] = info.ports
    assert (http.name, http.container_port, http.host_address) == ("http", 8080, host_a.address)
    raw = inspect(hosts, spec.container_name)
    assert raw is not None
    assert raw["HostConfig"]["NanoCpus"] == 500_000_000
    assert raw["HostConfig"]["Memory"] == 1024 * 1024 * 1024
    assert raw["Config"]["Labels"]["tenantry.pod"] == spec.pod_id
    assert raw["Config"]["Labels"]["tenantry.account"] == "acct-1"
    assert [m["Name"] for m in raw["Mounts"]] == [spec.volume_name]

    # The secret reached the container, and its env file did not stay on the host.
    assert (await sh(client, host_a, spec.pod_id, "echo $API_TOKEN")).strip() == "s3cret-token"
    assert not await lingering_env_files()

    # Re-running create adopts the same container.
    again = await client.run_container(RunContainerInput(host=host_a, spec=spec))
    assert again.container_id == info.container_id

    # A file in the workspace is served by the pod's HTTP service.
    await sh(client, host_a, spec.pod_id, "echo hello from A > /workspace/note.txt")
    response = await http_get(info.url("http") + "/note.txt")
    assert response.status_code == 200
    assert response.text == "hello from A\n"

    # Hibernate: stop, snapshot, verify, free the host.
    stopped = await client.stop_container(StopContainerInput(host=host_a, pod_id=spec.pod_id))
    assert stopped.status == "exited"
    key = f"pods/acct-1/{spec.pod_id}/snap-1.tar.zst"
    snap = await client.snapshot_to_s3(
        SnapshotInput(host=host_a, pod_id=spec.pod_id, bucket=aws.bucket, key=key)
    )
    stored = aws.s3().get_object(Bucket=aws.bucket, Key=key)["Body"].read()
    assert len(stored) == snap.size
    assert hashlib.sha256(stored).hexdigest() == snap.sha256
    assert stored[:4] == b"\x28\xb5\x2f\xfd"  # zstd frame magic
    verified = await client.verify_snapshot(VerifySnapshotInput(snapshot=snap.ref(), rehash=True))
    assert verified.size == snap.size

    ref_a = ContainerRef(host=host_a, pod_id=spec.pod_id)
    assert await client.remove_container_if_present(ref_a) is True
    assert await client.remove_container_if_present(ref_a) is False
    assert await client.remove_workspace_if_present(ref_a) is True
    assert await client.remove_workspace_if_present(ref_a) is False
    assert (await client.container_state(ref_a)).status == "absent"

    # Restore on B: the file is back and the service answers on B's address.
    restored = await client.restore_from_s3(
        RestoreInput(host=host_b, spec=spec, snapshot=snap.ref())
    )
    assert restored.status == "running"
    assert restored.ports[0].host_address == host_b.address
    assert (await sh(client, host_b, spec.pod_id, "cat /workspace/note.txt")) == "hello from A\n"
    response = await http_get(restored.url("http") + "/note.txt")
    assert response.text == "hello from A\n"
    assert (await sh(client, host_b, spec.pod_id, "echo $API_TOKEN")).strip() == "s3cret-token"
    assert inspect(hosts, f"pod-{spec.pod_id}-restore") is None

    # Re-running the restore adopts the running pod instead of restoring twice.
    again = await client.restore_from_s3(RestoreInput(host=host_b, spec=spec, snapshot=snap.ref()))
    assert again.container_id == restored.container_id

    await remove_pod(client, host_b, spec.pod_id)
