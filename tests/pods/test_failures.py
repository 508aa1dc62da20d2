"""What goes wrong on purpose: corrupt snapshots, impostor hosts, hosts that go down."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlencode

import pytest

from devstack.podhost import generate_keypair
from tenantry.clients.podhost import (
    HostAuthFailed,
    HostKeyMismatch,
    HostUnreachable,
    PodHostClient,
    SnapshotCorrupt,
)
from tenantry.contracts.podhost import (
    ContainerRef,
    RestoreInput,
    RunContainerInput,
    SnapshotInfo,
    SnapshotInput,
    VerifySnapshotInput,
)
from tests.fixtures.moto import AwsResources
from tests.fixtures.podhosts import PodHosts
from tests.pods.conftest import inspect, new_spec, remove_pod, sh
from tests.support.poll import eventually_async


async def _hibernated_pod(
    client: PodHostClient, hosts: PodHosts, aws: AwsResources
) -> tuple[RunContainerInput, SnapshotInfo, SnapshotInfo]:
    """A pod that ran on host A and left it, with its snapshot and a later, different one."""
    run = RunContainerInput(host=hosts.ref(0), spec=new_spec())
    await client.run_container(run)
    snaps = []
    for content in ("original", "later"):
        await sh(client, run.host, run.spec.pod_id, f"echo {content} > /workspace/data.txt")
        key = f"{run.spec.pod_id}-{content}.zst"
        request = SnapshotInput(host=run.host, pod_id=run.spec.pod_id, bucket=aws.bucket, key=key)
        snaps.append(await client.snapshot_to_s3(request))
    await remove_pod(client, run.host, run.spec.pod_id)
    return run, snaps[0], snaps[1]


def _nothing_left(hosts: PodHosts, pod_id: str) -> None:
    assert inspect(hosts, f"pod-{pod_id}") is None
    assert inspect(hosts, f"pod-{pod_id}-restore") is None
    assert inspect(hosts, f"pod-{pod_id}-workspace") is None  # the volume


@pytest.mark.parametrize("damage", ["flipped-bytes", "other-snapshot"])
async def test_corrupt_snapshot_is_refused_and_nothing_is_left(
    client: PodHostClient, hosts: PodHosts, aws: AwsResources, damage: str
) -> None:
    run, snap, other = await _hibernated_pod(client, hosts, aws)
    s3 = aws.s3()
    if damage == "flipped-bytes":
        data = bytearray(s3.get_object(Bucket=aws.bucket, Key=snap.key)["Body"].read())
        data[len(data) // 2] ^= 0xFF
    else:  # a valid snapshot, but not the recorded one: it would extract cleanly
        data = bytearray(s3.get_object(Bucket=aws.bucket, Key=other.key)["Body"].read())
    s3.put_object(Bucket=aws.bucket, Key=snap.key, Body=bytes(data))

    with pytest.raises(SnapshotCorrupt):
        await client.verify_snapshot(VerifySnapshotInput(snapshot=snap.ref()))
    host_b = hosts.ref(1)
    with pytest.raises(SnapshotCorrupt):
        await client.restore_from_s3(RestoreInput(host=host_b, spec=run.spec, snapshot=snap.ref()))
    state = await client.container_state(ContainerRef(host=host_b, pod_id=run.spec.pod_id))
    assert state.status == "absent"
    _nothing_left(hosts, run.spec.pod_id)


async def test_wrong_or_unknown_host_key_is_refused(
    hosts: PodHosts, aws: AwsResources, tmp_path: Path
) -> None:
    host_a = hosts.ref(0)
    # Host B's key pinned for host A's address: what an impostor at A's address presents.
    impostor_line = hosts.hosts[1].host_key_line().replace(hosts.hosts[1].address, host_a.address)
    for known_hosts in ([impostor_line], []):
        client = PodHostClient(ssh_key_path=hosts.client_key, known_hosts=known_hosts, s3=aws.s3())
        with pytest.raises(HostKeyMismatch) as caught:
            await client.container_state(ContainerRef(host=host_a, pod_id="whatever"))
        assert caught.value.retryable is False


async def test_a_key_the_host_does_not_know_is_refused(
    hosts: PodHosts, aws: AwsResources, tmp_path: Path
) -> None:
    stranger = generate_keypair(tmp_path / "stranger", "not-the-control-plane")
    client = PodHostClient(ssh_key_path=stranger, known_hosts=hosts.known_hosts, s3=aws.s3())
    with pytest.raises(HostAuthFailed):
        await client.container_state(ContainerRef(host=hosts.ref(0), pod_id="whatever"))


async def test_host_down_is_unreachable_and_a_retry_after_restart_adopts(
    client: PodHostClient, hosts: PodHosts
) -> None:
    run = RunContainerInput(host=hosts.ref(0), spec=new_spec())
    first = await client.run_container(run)

    hosts.hosts[0].stop()
    with pytest.raises(HostUnreachable) as caught:
        await client.run_container(run)
    assert caught.value.retryable is True
    with pytest.raises(HostUnreachable):
        await client.container_state(ContainerRef(host=run.host, pod_id=run.spec.pod_id))

    hosts.hosts[0].start()  # same address, same host key: the pin still holds
    again = await client.run_container(run)
    assert again.container_id == first.container_id
    assert again.status == "running"
    await remove_pod(client, run.host, run.spec.pod_id)


async def test_host_dies_mid_snapshot_then_the_retry_succeeds(
    client: PodHostClient, hosts: PodHosts, aws: AwsResources
) -> None:
    run = RunContainerInput(host=hosts.ref(0), spec=new_spec())
    await client.run_container(run)
    await sh(
        client,
        run.host,
        run.spec.pod_id,
        "dd if=/dev/urandom of=/workspace/big bs=1M count=40 2>/dev/null",
    )
    s3 = aws.s3()
    request = SnapshotInput(
        host=run.host, pod_id=run.spec.pod_id, bucket=aws.bucket, key="mid-way.zst"
    )
    snapshot = asyncio.create_task(client.snapshot_to_s3(request))

    # Wait until the first part is in S3: the stream is then provably under way.
    def first_part_in() -> bool:
        uploads = s3.list_multipart_uploads(Bucket=aws.bucket).get("Uploads", [])
        return bool(uploads) and bool(
            s3.list_parts(Bucket=aws.bucket, Key=request.key, UploadId=uploads[0]["UploadId"]).get(
                "Parts"
            )
        )

    await eventually_async(
        first_part_in,
        timeout=5,
        what=lambda _: "the snapshot never uploaded a first part",
        interval=0.01,
    )
    hosts.hosts[0].stop()

    with pytest.raises(HostUnreachable):
        await snapshot
    # The half-done multipart upload was aborted and no object appeared.
    assert not s3.list_multipart_uploads(Bucket=aws.bucket).get("Uploads")
    assert "Contents" not in s3.list_objects_v2(Bucket=aws.bucket, Prefix=request.key)

    hosts.hosts[0].start()
    snap = await client.snapshot_to_s3(request)
    await client.verify_snapshot(VerifySnapshotInput(snapshot=snap.ref(), rehash=True))
    await remove_pod(client, run.host, run.spec.pod_id)


async def test_an_object_replaced_under_the_same_tags_is_refused_by_its_etag(
    client: PodHostClient, hosts: PodHosts, aws: AwsResources
) -> None:
    _, snap, _ = await _hibernated_pod(client, hosts, aws)
    s3 = aws.s3()
    # S3 hashed every part as we did, so the snapshot carries S3's ETag of the object and
    # verifying it before the host is freed needs no re-read.
    head = s3.head_object(Bucket=aws.bucket, Key=snap.key)
    assert snap.etag is not None and snap.etag.endswith(f"-{snap.parts}")
    assert head["ETag"].strip('"') == snap.etag
    verified = await client.verify_snapshot(VerifySnapshotInput(snapshot=snap.ref()))
    assert verified.rehashed is False

    # One byte changed, same size, the same tags copied over: only the ETag tells.
    data = bytearray(s3.get_object(Bucket=aws.bucket, Key=snap.key)["Body"].read())
    data[len(data) // 2] ^= 0xFF
    tags = s3.get_object_tagging(Bucket=aws.bucket, Key=snap.key)["TagSet"]
    s3.put_object(
        Bucket=aws.bucket,
        Key=snap.key,
        Body=bytes(data),
        Tagging=urlencode({t["Key"]: t["Value"] for t in tags}),
    )
    with pytest.raises(SnapshotCorrupt, match="ETag"):
        await client.verify_snapshot(VerifySnapshotInput(snapshot=snap.ref()))
    # A snapshot without an ETag (taken before they were kept) is re-read instead.
    without = snap.ref().model_copy(update={"etag": None})
    with pytest.raises(SnapshotCorrupt, match="hashes to"):
        await client.verify_snapshot(VerifySnapshotInput(snapshot=without, rehash=True))
