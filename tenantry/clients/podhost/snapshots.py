"""Pod snapshots: the workspace volume as a zstd tar, streamed host -> SSH -> S3 and back.

What a snapshot holds: the workspace volume only (a tar of ``workspace/...``), not
the container's root filesystem. A pod's root filesystem is its image plus its config,
which restore recreates; ``docker export`` would copy the whole image into every
snapshot (gigabytes for real dev images, to keep kilobytes of user changes), and
``docker diff`` + tar cannot express deletions without overlay whiteouts and needs the
pod running. So user state lives in /workspace (HOME points there too), like Codespaces
and Gitpod, and snapshots stay proportional to what users wrote.

Streaming: compression runs on the host, the compressed bytes arrive over the SSH
channel in chunks and go out as S3 multipart parts; at most about two parts are in
memory and nothing is staged on disk. The sha256 and size are computed on the way and
recorded as object tags (a multipart upload's metadata is fixed before its bytes are
known); the workflow also keeps them, and restore trusts only the workflow's copy.
Each part also goes with its MD5 (Content-MD5: S3 refuses a part that arrived otherwise),
and when S3's ETags are those MD5s the completed object's ETag is recorded too, so the
hibernate's check that the object is stored before the host is freed compares ETags
instead of reading the whole object back.
Restore first tries the copy the host kept at hibernate (``podhost.cache``): when it is
the snapshot's bytes, the stopped container is started and nothing is downloaded.
Otherwise it streams the object into ``zstd -d | docker cp -`` into a fresh volume through a
helper container that never runs; the pod's container is created only after the
checksum matched, so a corrupt snapshot leaves nothing behind on the host.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import shlex
from typing import TYPE_CHECKING, Any

import asyncssh

from tenantry.clients.podhost.cache import PodCache
from tenantry.clients.podhost.containers import LABEL_POD, PodContainers
from tenantry.clients.podhost.errors import (
    ContainerNotFound,
    HostUnreachable,
    PodHostError,
    SnapshotCorrupt,
    translate,
)
from tenantry.clients.podhost.ssh import SshConnector, bash, docker_error
from tenantry.contracts.podhost import (
    SNAPSHOT_FORMAT,
    ContainerInfo,
    RestoreInput,
    SnapshotInfo,
    SnapshotInput,
    SnapshotVerification,
    VerifySnapshotInput,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

READ_CHUNK = 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024  # S3's minimum part is 5 MiB (except the last)
ZSTD_LEVEL = 3


def restore_helper_name(pod_id: str) -> str:
    return f"pod-{pod_id}-restore"


class PodSnapshots:
    """Takes, verifies and restores pod snapshots between pod hosts and S3."""

    def __init__(
        self,
        ssh: SshConnector,
        s3: S3Client,
        containers: PodContainers,
        cache: PodCache,
        *,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> None:
        if part_size < 5 * 1024 * 1024:
            raise ValueError("S3 multipart parts must be at least 5 MiB")
        self._ssh = ssh
        self._s3 = s3
        self._containers = containers
        self._cache = cache
        self._part_size = part_size

    async def snapshot_to_s3(self, input: SnapshotInput) -> SnapshotInfo:
        """Streams the pod's workspace into ``s3://bucket/key`` (replacing any earlier object).

        The pod should be stopped for a consistent snapshot; a running one is copied as
        it is at that moment. Re-running overwrites the same key, so it is idempotent.
        """
        where = f"snapshot {input.pod_id} -> s3://{input.bucket}/{input.key}"
        async with self._ssh.connect(input.host) as conn:
            if await self._containers.inspect(conn, input.host, input.pod_id) is None:
                raise ContainerNotFound(f"{input.host.name}: no pod {input.pod_id} to snapshot")
            script = f"{self._workspace_tar_script(input.pod_id)} | zstd -q -c -{ZSTD_LEVEL}"
            with translate(where):
                upload = await asyncio.to_thread(
                    self._s3.create_multipart_upload,
                    Bucket=input.bucket,
                    Key=input.key,
                    ContentType="application/zstd",
                    Metadata={"pod-id": input.pod_id, "format": SNAPSHOT_FORMAT},
                )
            upload_id = upload["UploadId"]
            try:
                with translate(where):
                    size, digest, parts, expected_etag = await self._upload_stream(
                        conn, script, input, upload_id
                    )
                    completed = await asyncio.to_thread(
                        self._s3.complete_multipart_upload,
                        Bucket=input.bucket,
                        Key=input.key,
                        UploadId=upload_id,
                        MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
                    )
                    etag = completed.get("ETag", "").strip('"')
                    await asyncio.to_thread(
                        self._s3.put_object_tagging,
                        Bucket=input.bucket,
                        Key=input.key,
                        Tagging={
                            "TagSet": [
                                {"Key": "sha256", "Value": digest},
                                {"Key": "size", "Value": str(size)},
                                {"Key": "pod-id", "Value": input.pod_id},
                            ]
                        },
                    )
            except BaseException:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(
                        self._s3.abort_multipart_upload,
                        Bucket=input.bucket,
                        Key=input.key,
                        UploadId=upload_id,
                    )
                raise
        return SnapshotInfo(
            pod_id=input.pod_id,
            bucket=input.bucket,
            key=input.key,
            size=size,
            sha256=digest,
            parts=len(parts),
            etag=etag if expected_etag is not None and etag == expected_etag else None,
        )

    def _workspace_tar_script(self, pod_id: str) -> str:
        """The workspace as a tar of ``workspace/...``, what ``docker cp pod:/workspace -``
        gives, read straight from the pod's own filesystem on the host.

        ``docker cp`` relays every byte through dockerd's API and took ~0.9 s more per
        200 MB than tar here (``bench pods``: host_pipelines_docker_cp_vs_tar). Reading
        as root is safe where writing would not be: tar stores symlinks as links and never
        follows them. The workspace is mounted again first if it is not (a host reboot).
        """
        image, mount = (shlex.quote(p) for p in self._containers.workspace_paths(pod_id))
        return (
            f"{{ mountpoint -q {mount} || mount -o loop,nosuid,nodev {image} {mount}; }} && "
            f"tar -C {mount} --numeric-owner --transform 's,^\\.,workspace,' -c ."
        )

    async def _upload_stream(
        self,
        conn: asyncssh.SSHClientConnection,
        script: str,
        input: SnapshotInput,
        upload_id: str,
    ) -> tuple[int, str, list[dict[str, Any]], str | None]:
        """Reads the remote pipeline's stdout chunk by chunk into multipart parts.

        Returns the size, sha256, the parts and the ETag S3 must give the completed object
        (None if S3's MD5 of some part differed from ours).
        """
        hasher = hashlib.sha256()
        size = 0
        parts = _Parts(self._s3, input.bucket, input.key, upload_id, self._part_size)
        process = await conn.create_process(bash(script), encoding=None)
        stderr_task = asyncio.ensure_future(process.stderr.read())
        try:
            try:
                while chunk := await process.stdout.read(READ_CHUNK):
                    hasher.update(chunk)
                    size += len(chunk)
                    await parts.add(chunk)
                stderr = (await stderr_task).decode(errors="replace")
                await process.wait_closed()
            finally:
                stderr_task.cancel()
                process.close()
            _check_exit(process.exit_status, stderr, f"snapshot of pod {input.pod_id}")
            done = await parts.finish()
            return size, hasher.hexdigest(), done, parts.expected_etag()
        except BaseException:
            await parts.settle()
            raise

    async def verify_snapshot(self, input: VerifySnapshotInput) -> SnapshotVerification:
        """Checks the object against the recorded size and sha256; SnapshotCorrupt if not.

        Without ``rehash`` it compares S3's size, our checksum tag and, when the snapshot
        has one, S3's ETag (which S3 computed from the bytes it stored); with it, it reads
        the object back and hashes every byte (streamed, never held in memory).
        """
        snap = input.snapshot
        where = f"verify s3://{snap.bucket}/{snap.key}"
        with translate(where):
            head = await asyncio.to_thread(self._s3.head_object, Bucket=snap.bucket, Key=snap.key)
            tagging = await asyncio.to_thread(
                self._s3.get_object_tagging, Bucket=snap.bucket, Key=snap.key
            )
        size = int(head["ContentLength"])
        tags = {t["Key"]: t["Value"] for t in tagging["TagSet"]}
        if snap.size is not None and size != snap.size:
            raise SnapshotCorrupt(f"{where}: size {size}, expected {snap.size}")
        if tags.get("sha256") != snap.sha256:
            raise SnapshotCorrupt(f"{where}: checksum tag {tags.get('sha256')!r} does not match")
        if snap.etag is not None and str(head.get("ETag", "")).strip('"') != snap.etag:
            raise SnapshotCorrupt(f"{where}: ETag {head.get('ETag')!r}, expected {snap.etag!r}")
        if input.rehash:
            digest, _ = await self._hash_object(snap.bucket, snap.key)
            if digest != snap.sha256:
                raise SnapshotCorrupt(f"{where}: content hashes to {digest}")
        return SnapshotVerification(snapshot=snap, size=size, rehashed=input.rehash)

    async def _hash_object(self, bucket: str, key: str) -> tuple[str, int]:
        hasher = hashlib.sha256()
        size = 0
        with translate(f"read s3://{bucket}/{key}"):
            body = (await asyncio.to_thread(self._s3.get_object, Bucket=bucket, Key=key))["Body"]
            try:
                while chunk := await asyncio.to_thread(body.read, READ_CHUNK):
                    hasher.update(chunk)
                    size += len(chunk)
            finally:
                body.close()
        return hasher.hexdigest(), size

    async def restore_from_s3(self, input: RestoreInput) -> ContainerInfo:
        """Recreates the pod on ``input.host`` from its snapshot and starts it.

        Idempotent: if the pod's container already exists there (a restore that finished
        before its result was recorded), it is adopted. Leftovers of an interrupted
        restore (helper container, partial volume) are removed before starting afresh.
        """
        host, spec, snap = input.host, input.spec, input.snapshot
        where = f"restore {spec.pod_id} on {host.name} from s3://{snap.bucket}/{snap.key}"
        async with self._ssh.connect(host) as conn:
            existing = await self._containers.inspect(conn, host, spec.pod_id)
            if existing is not None and existing.status == "running":
                return await self._adopt_running(conn, existing)
            if await self._cache.claim_for_restore(conn, host, spec, snap, existing):
                # Started and its claim released in one round trip: a warm restore is
                # measured against a bare `docker start` (bench pods).
                release = self._cache.release_claim_script(spec.pod_id)
                info = await self._containers.start(conn, host, spec.pod_id, then=release)
                return info.model_copy(update={"restored_from": "cache"})
            if existing is not None:
                # A kept copy that is not this snapshot's bytes, or a restore that never
                # started: neither is trusted.
                await self._containers.remove_container_on(conn, host, spec.pod_id)
            with translate(where):
                body = (
                    await asyncio.to_thread(self._s3.get_object, Bucket=snap.bucket, Key=snap.key)
                )["Body"]
            try:
                await self._discard_partial_restore(conn, spec.pod_id)
                helper = restore_helper_name(spec.pod_id)
                create_helper = [
                    "docker",
                    "create",
                    "--name",
                    helper,
                    "--network",
                    "none",
                    "--label",
                    f"{LABEL_POD}-restore={spec.pod_id}",
                    "-v",
                    f"{spec.volume_name}:/workspace:nocopy",
                    spec.image,
                    "true",
                ]
                # The restore lands in a workspace of the tier's size, so a snapshot can
                # never bring back more than the quota (the copy fails with ENOSPC).
                volume = self._containers.volume_create_script(spec)
                await self._ssh.run(
                    conn, bash(f"{volume} >/dev/null && {shlex.join(create_helper)}")
                )
                try:
                    with translate(where):
                        size, digest, status, stderr = await self._stream_into(conn, helper, body)
                    if digest != snap.sha256 or (snap.size is not None and size != snap.size):
                        raise SnapshotCorrupt(
                            f"{where}: content hashes to {digest} ({size} bytes), "
                            f"expected {snap.sha256}; nothing was restored"
                        )
                    _check_exit(status, stderr, where)
                except BaseException:
                    with contextlib.suppress(PodHostError, OSError, asyncssh.Error):
                        await self._discard_partial_restore(conn, spec.pod_id)
                    raise
            finally:
                body.close()
            await self._ssh.run(conn, ["docker", "rm", "-f", helper])
            info = await self._containers.ensure_running(
                conn, host, spec, copy_image_workspace=False
            )
            return info.model_copy(update={"restored_from": "s3"})

    async def _adopt_running(
        self, conn: asyncssh.SSHClientConnection, info: ContainerInfo
    ) -> ContainerInfo:
        """A restore that finished before its result was recorded: its claim, if any, goes."""
        await self._cache.release_claim(conn, info.pod_id)
        return info

    async def _stream_into(
        self, conn: asyncssh.SSHClientConnection, helper: str, body: Any
    ) -> tuple[int, str, int | None, str]:
        """Feeds the S3 body to ``zstd -d | docker cp - helper:/``, hashing every byte.

        If the remote side gives up early (corrupt input makes zstd fail), the rest of
        the object is still read and hashed, to tell a corrupt snapshot from a host failure.
        """
        hasher = hashlib.sha256()
        size = 0
        process = await conn.create_process(
            bash(f"zstd -d -q -c | docker cp - {helper}:/"), encoding=None
        )
        stderr_task = asyncio.ensure_future(process.stderr.read())
        remote_open = True
        try:
            while chunk := await asyncio.to_thread(body.read, READ_CHUNK):
                hasher.update(chunk)
                size += len(chunk)
                if remote_open:
                    try:
                        process.stdin.write(chunk)
                        await process.stdin.drain()
                    except (BrokenPipeError, ConnectionResetError, asyncssh.Error):
                        remote_open = False
            if remote_open:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError, asyncssh.Error):
                    process.stdin.write_eof()
            stderr = (await stderr_task).decode(errors="replace")
            await process.wait_closed()
        finally:
            stderr_task.cancel()
            process.close()
        return size, hasher.hexdigest(), process.exit_status, stderr

    async def _discard_partial_restore(
        self, conn: asyncssh.SSHClientConnection, pod_id: str
    ) -> None:
        await self._ssh.run(conn, ["docker", "rm", "-f", restore_helper_name(pod_id)], check=False)
        await self._containers.remove_volume_if_present(conn, pod_id)


class _Parts:
    """The parts of one multipart upload, sent one at a time while the stream reads on.

    Waiting for each upload before reading on stalls the host's pipeline (its SSH window
    fills) for as long as S3 takes. So while a part uploads, the stream reads up to half
    a part ahead, then waits for it. Not a whole part: with the part in flight,
    what botocore keeps of it and the SSH window, a whole part ahead measured 3.7 parts in
    memory at 5 MiB parts; half a part measures 2.6-2.9 (the streaming test allows 3.5).
    """

    def __init__(self, s3: S3Client, bucket: str, key: str, upload_id: str, size: int) -> None:
        self._s3, self._bucket, self._key, self._upload_id = s3, bucket, key, upload_id
        self._part_size = size
        self._read_ahead = size // 2
        # One growing buffer handed to botocore as it is: joining a list of chunks would
        # hold the part twice while it is copied.
        self._pending = bytearray()
        self._count = 0
        self._done: list[dict[str, Any]] = []
        self._md5s: dict[int, bytes] = {}
        self._s3_hashed_as_we_did = True
        self._in_flight: asyncio.Future[None] | None = None

    async def add(self, chunk: bytes) -> None:
        """Every part but the last is exactly the part size: a chunk that overflows one
        starts the next (so an object of n bytes has ceil(n / part size) parts)."""
        rest = memoryview(chunk)
        while rest:
            room = self._part_size - len(self._pending)
            self._pending += rest[:room]
            rest = rest[room:]
            if len(self._pending) == self._part_size:
                await self._send()
            elif len(self._pending) >= self._read_ahead:
                await self._wait()  # read ahead far enough: let the part in flight land

    async def finish(self) -> list[dict[str, Any]]:
        """Sends the rest (an empty stream still makes one part); the parts, in order."""
        if self._pending or not self._count:
            await self._send()
        await self._wait()
        return sorted(self._done, key=lambda part: int(part["PartNumber"]))

    def expected_etag(self) -> str | None:
        """S3's ETag of the completed upload (the MD5 of the parts' MD5s, and their count),
        or None when S3's ETag of some part was not the MD5 of what we sent."""
        if not self._s3_hashed_as_we_did:
            return None
        joined = b"".join(self._md5s[number] for number in sorted(self._md5s))
        return f"{hashlib.md5(joined, usedforsecurity=False).hexdigest()}-{len(self._md5s)}"

    async def settle(self) -> None:
        """After a failure: waits out the part in flight, so an abort does not race it.

        Its thread cannot be cancelled, and S3 may keep a part that lands after the
        upload was aborted.
        """
        flight = self._in_flight
        if flight is not None:
            await asyncio.wait({flight})
            if not flight.cancelled():
                flight.exception()  # retrieved; the error that ended the stream is raised

    async def _send(self) -> None:
        await self._wait()  # the part before: one in flight at a time
        body, self._pending = self._pending, bytearray()
        self._count += 1
        self._in_flight = asyncio.ensure_future(self._upload(self._count, body))

    async def _wait(self) -> None:
        if self._in_flight is not None:
            # Shielded: a cancelled activity must not orphan the part (see settle).
            await asyncio.shield(self._in_flight)

    async def _upload(self, number: int, body: bytearray) -> None:
        md5, etag = await asyncio.to_thread(self._put_part, number, body)
        self._md5s[number] = md5
        if etag.strip('"') != md5.hex():
            self._s3_hashed_as_we_did = False
        self._done.append({"PartNumber": number, "ETag": etag})

    def _put_part(self, number: int, body: bytearray) -> tuple[bytes, str]:
        """Uploads one part with its Content-MD5 (S3 refuses a part that arrived otherwise);
        returns our MD5 and S3's ETag of it."""
        md5 = hashlib.md5(body, usedforsecurity=False).digest()
        answer = self._s3.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,  # type: ignore[arg-type]  # botocore takes a bytearray; its stubs say bytes
            ContentMD5=base64.b64encode(md5).decode(),
        )
        return md5, answer["ETag"]


def _check_exit(status: int | None, stderr: str, what: str) -> None:
    if status is None:
        raise HostUnreachable(f"{what}: the connection closed before the command finished")
    if status != 0:
        raise docker_error(stderr, f"{what}: exit {status}")
