"""Warm restores on real hosts: a hibernated pod kept on its host starts without a download,
only when the kept copy is provably the snapshot's bytes; the cache budget evicts the oldest
kept copies and never a copy that S3 has not verified."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from tenantry.clients.podhost import PodHostClient
from tenantry.clients.podhost.cache import CacheEntry, CacheRecord, choose_evictions
from tenantry.contracts.podhost import (
    ContainerRef,
    KeepCachedInput,
    KeepCachedResult,
    PodHostRef,
    PodSpec,
    RestoreInput,
    RunContainerInput,
    SnapshotInput,
    SnapshotRef,
    StopContainerInput,
    VerifySnapshotInput,
)
from tests.fixtures.moto import AwsResources
from tests.fixtures.podhosts import PodHosts
from tests.pods.conftest import PART_SIZE, http_get, inspect, new_spec, remove_pod, sh

GIB = 1024 * 1024 * 1024


class CountingClient:
    """A pod-host client whose S3 GETs of objects are counted (the download a restore does)."""

    def __init__(self, hosts: PodHosts, aws: AwsResources) -> None:
        s3 = aws.s3()
        self.gets = 0
        s3.meta.events.register("before-call.s3.GetObject", self._count)
        self.pods = PodHostClient(
            ssh_key_path=hosts.client_key,
            known_hosts=hosts.known_hosts,
            s3=s3,
            part_size=PART_SIZE,
            connect_timeout=5,
            isolation=hosts.isolation(),
        )

    def _count(self, **_: object) -> None:
        self.gets += 1


@pytest.fixture
def counting(hosts: PodHosts, aws: AwsResources) -> CountingClient:
    return CountingClient(hosts, aws)


async def hibernate(
    client: PodHostClient,
    aws: AwsResources,
    host: PodHostRef,
    spec: PodSpec,
    n: int,
    *,
    budget: int = GIB,
) -> tuple[SnapshotRef, KeepCachedResult]:
    """What the workflow does: stop, snapshot, verify in S3, then keep (or free)."""
    await client.stop_container(StopContainerInput(host=host, pod_id=spec.pod_id))
    key = f"pods/acct-1/{spec.pod_id}/snap-{n}.tar.zst"
    snap = await client.snapshot_to_s3(
        SnapshotInput(host=host, pod_id=spec.pod_id, bucket=aws.bucket, key=key)
    )
    ref = snap.ref()
    await client.verify_snapshot(VerifySnapshotInput(snapshot=ref))
    kept = await client.keep_cached(
        KeepCachedInput(host=host, pod_id=spec.pod_id, snapshot=ref, budget_bytes=budget)
    )
    return ref, kept


async def running_pod(client: PodHostClient, host: PodHostRef, note: str) -> PodSpec:
    spec = new_spec()
    await client.run_container(RunContainerInput(host=host, spec=spec))
    await sh(client, host, spec.pod_id, f"echo {note} > /workspace/note.txt")
    return spec


def image_path(hosts: PodHosts, pod_id: str) -> Path:
    return Path(hosts.isolation().workspace_root) / f"{pod_id}.ext4"


def record_path(hosts: PodHosts, pod_id: str) -> Path:
    return Path(hosts.isolation().workspace_root) / f"{pod_id}.cache"


async def test_restore_on_the_same_host_starts_the_kept_pod_without_a_download(
    counting: CountingClient, hosts: PodHosts, aws: AwsResources
) -> None:
    client, host_a, host_b = counting.pods, hosts.ref(0), hosts.ref(1)
    spec = await running_pod(client, host_a, "kept on A")
    first = inspect(hosts, spec.container_name)
    assert first is not None

    ref, kept = await hibernate(client, aws, host_a, spec, 1)
    assert kept.kept and kept.evicted == []
    # Kept: the stopped container (no running process), its workspace, the record.
    stopped = inspect(hosts, spec.container_name)
    assert stopped is not None and stopped["State"]["Status"] == "exited"
    assert record_path(hosts, spec.pod_id).read_text().split()[1] == ref.sha256
    # Keeping again is idempotent.
    again = await client.keep_cached(
        KeepCachedInput(host=host_a, pod_id=spec.pod_id, snapshot=ref, budget_bytes=GIB)
    )
    assert again.kept

    counting.gets = 0
    restored = await client.restore_from_s3(RestoreInput(host=host_a, spec=spec, snapshot=ref))
    assert restored.restored_from == "cache"
    assert counting.gets == 0  # nothing was downloaded
    assert restored.status == "running" and restored.container_id == first["Id"]
    assert (await sh(client, host_a, spec.pod_id, "cat /workspace/note.txt")) == "kept on A\n"
    assert (await sh(client, host_a, spec.pod_id, "echo $API_TOKEN")).strip() == "s3cret-token"
    assert (await http_get(restored.url("http") + "/note.txt")).text == "kept on A\n"
    # The kept copy is a live pod again: no record is left for an eviction to find.
    assert not record_path(hosts, spec.pod_id).exists()
    assert not Path(f"{record_path(hosts, spec.pod_id)}.claimed").exists()
    # Re-running the restore adopts the running pod.
    adopted = await client.restore_from_s3(RestoreInput(host=host_a, spec=spec, snapshot=ref))
    assert adopted.container_id == restored.container_id and counting.gets == 0

    # Kept on A, restored on B: downloaded (the copy on A names its host).
    ref2, _ = await hibernate(client, aws, host_a, spec, 2)
    counting.gets = 0
    on_b = await client.restore_from_s3(RestoreInput(host=host_b, spec=spec, snapshot=ref2))
    assert on_b.restored_from == "s3" and counting.gets == 1
    assert (await sh(client, host_b, spec.pod_id, "cat /workspace/note.txt")) == "kept on A\n"
    await remove_pod(client, host_b, spec.pod_id)
    assert not record_path(hosts, spec.pod_id).exists()


async def test_a_kept_copy_that_does_not_match_is_never_used(
    counting: CountingClient, hosts: PodHosts, aws: AwsResources
) -> None:
    client, host = counting.pods, hosts.ref(0)
    spec = await running_pod(client, host, "the real one")

    # 1. Its recorded hash altered: the restore downloads, and the data is right.
    ref, _ = await hibernate(client, aws, host, spec, 1)
    record = record_path(hosts, spec.pod_id)
    fields = record.read_text().split()
    fields[1] = "0" * 64
    record.write_text(" ".join(fields) + "\n")
    counting.gets = 0
    restored = await client.restore_from_s3(RestoreInput(host=host, spec=spec, snapshot=ref))
    assert restored.restored_from == "s3" and counting.gets == 1
    assert (await sh(client, host, spec.pod_id, "cat /workspace/note.txt")) == "the real one\n"

    # 2. The kept volume altered after it was kept (its record untouched): downloaded.
    ref, _ = await hibernate(client, aws, host, spec, 2)
    with tempfile.TemporaryDirectory() as mnt:
        image = str(image_path(hosts, spec.pod_id))
        subprocess.run(["mount", "-o", "loop", image, mnt], check=True)
        try:
            Path(mnt, "note.txt").write_text("tampered\n")
        finally:
            subprocess.run(["umount", mnt], check=True)
    counting.gets = 0
    restored = await client.restore_from_s3(RestoreInput(host=host, spec=spec, snapshot=ref))
    assert restored.restored_from == "s3" and counting.gets == 1
    assert (await sh(client, host, spec.pod_id, "cat /workspace/note.txt")) == "the real one\n"

    # 3. A different snapshot than the one kept (a newer one taken elsewhere): downloaded.
    ref_old, _ = await hibernate(client, aws, host, spec, 3)
    await sh_changed_elsewhere(client, aws, hosts, spec)
    newer = await client.snapshot_to_s3(
        SnapshotInput(
            host=hosts.ref(1), pod_id=f"{spec.pod_id}x", bucket=aws.bucket, key="pods/other"
        )
    )
    assert newer.sha256 != ref_old.sha256
    counting.gets = 0
    restored = await client.restore_from_s3(
        RestoreInput(host=host, spec=spec, snapshot=newer.ref())
    )
    assert restored.restored_from == "s3" and counting.gets == 1
    assert (await sh(client, host, spec.pod_id, "cat /workspace/note.txt")) == "elsewhere\n"
    await remove_pod(client, hosts.ref(1), f"{spec.pod_id}x")

    # 4. The pod's config changed (a new secret): the kept container is not reused.
    ref, _ = await hibernate(client, aws, host, spec, 4)
    changed = spec.model_copy(update={"env": {"API_TOKEN": "rotated"}})
    counting.gets = 0
    restored = await client.restore_from_s3(RestoreInput(host=host, spec=changed, snapshot=ref))
    assert restored.restored_from == "s3" and counting.gets == 1
    assert (await sh(client, host, spec.pod_id, "echo $API_TOKEN")).strip() == "rotated"
    await remove_pod(client, host, spec.pod_id)


async def sh_changed_elsewhere(
    client: PodHostClient, aws: AwsResources, hosts: PodHosts, spec: PodSpec
) -> None:
    """Another pod on B whose workspace says 'elsewhere' (its snapshot stands for a newer one)."""
    other = spec.model_copy(update={"pod_id": f"{spec.pod_id}x"})
    host_b = hosts.ref(1)
    await client.run_container(RunContainerInput(host=host_b, spec=other))
    await sh(client, host_b, other.pod_id, "echo elsewhere > /workspace/note.txt")
    await client.stop_container(StopContainerInput(host=host_b, pod_id=other.pod_id))


async def test_the_budget_evicts_the_oldest_kept_pods_and_never_an_unverified_one(
    client: PodHostClient, hosts: PodHosts, aws: AwsResources
) -> None:
    host = hosts.ref(0)
    oldest = await running_pod(client, host, "oldest")
    middle = await running_pod(client, host, "middle")
    newest = await running_pod(client, host, "newest")
    # Not verified in S3 (its snapshot is, say, still uploading): stopped, no record.
    unverified = await running_pod(client, host, "unverified")
    await client.stop_container(StopContainerInput(host=host, pod_id=unverified.pod_id))
    live = await running_pod(client, host, "live")

    await hibernate(client, aws, host, oldest, 1)
    await hibernate(client, aws, host, middle, 1)
    async with client.ssh.connect(host) as conn:
        sizes = {e.record.pod_id: e.disk_bytes for e in await client.cache.entries(conn, host)}
    assert sizes[oldest.pod_id] > 0 and sizes[middle.pod_id] > 0
    # Room for two kept pods: keeping the newest evicts the oldest.
    budget = sizes[middle.pod_id] + sizes[oldest.pod_id] + sizes[oldest.pod_id] // 2
    _, kept = await hibernate(client, aws, host, newest, 1, budget=budget)
    assert kept.kept and kept.evicted == [oldest.pod_id]
    assert inspect(hosts, oldest.container_name) is None
    assert not image_path(hosts, oldest.pod_id).exists()
    assert not record_path(hosts, oldest.pod_id).exists()
    for spec in (middle, newest):
        assert inspect(hosts, spec.container_name) is not None
        assert record_path(hosts, spec.pod_id).exists()

    # A budget of nothing evicts every kept pod, and still no unverified or live one.
    async with client.ssh.connect(host) as conn:
        evicted, left = await client.cache.evict_over_budget(conn, host, 0)
    assert sorted(evicted) == sorted([middle.pod_id, newest.pod_id]) and left == 0
    assert inspect(hosts, middle.container_name) is None
    assert inspect(hosts, newest.container_name) is None
    stopped = inspect(hosts, unverified.container_name)
    assert stopped is not None and stopped["State"]["Status"] == "exited"
    assert image_path(hosts, unverified.pod_id).exists()
    running = inspect(hosts, live.container_name)
    assert running is not None and running["State"]["Status"] == "running"
    assert (await sh(client, host, live.pod_id, "cat /workspace/note.txt")) == "live\n"

    # With no budget at all, a hibernate keeps nothing: the host is freed as before.
    _, kept = await hibernate(client, aws, host, live, 1, budget=0)
    assert not kept.kept
    assert inspect(hosts, live.container_name) is None
    assert not image_path(hosts, live.pod_id).exists()
    for spec in (unverified,):
        await remove_pod(client, host, spec.pod_id)
    assert (await client.container_state(ContainerRef(host=host, pod_id=oldest.pod_id))).status == (
        "absent"
    )


def entry(pod_id: str, kept_at: int, disk: int, *, running: bool = False) -> CacheEntry:
    return CacheEntry(CacheRecord(pod_id, "a" * 64, "h", "fp", kept_at), disk, running)


def test_evictions_are_oldest_first_until_the_rest_fit() -> None:
    entries = [entry("c", 3, 10), entry("a", 1, 10), entry("b", 2, 10)]
    assert choose_evictions(entries, 30) == []
    assert choose_evictions(entries, 25) == ["a"]
    assert choose_evictions(entries, 10) == ["a", "b"]
    assert choose_evictions(entries, 0) == ["a", "b", "c"]
    # A pod a restore is starting (running) is neither counted nor evicted.
    assert choose_evictions([entry("r", 0, 100, running=True), entry("a", 1, 10)], 10) == []
