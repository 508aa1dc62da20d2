"""Pod-host activities: `PodHostClient` operations as Temporal activities.

Each activity reaches the host named in its input, pinning the host key recorded when
the host registered (it travels in the input: it is public). `PodHostError`s become
`ApplicationError`s with the same type name, non-retryable exactly when the error says
no retry can help. Long operations heartbeat every second, so a step on a worker that
died is retried after the heartbeat timeout rather than its whole start-to-close budget.
Secrets never enter workflow history: they are read from the database (decrypted) here,
added to the container's environment, and nowhere else.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.models import Pod
from tenantry.clients.podhost import PodHostClient, PodHostError
from tenantry.clients.podhost.ssh import known_hosts_line
from tenantry.contracts.pod import (
    PodHostCall,
    PodKeepCachedInput,
    PodPlacement,
    PodRestoreInput,
    PodRunInput,
    PodSnapshotInput,
)
from tenantry.contracts.podhost import (
    ContainerInfo,
    ContainerRef,
    KeepCachedInput,
    KeepCachedResult,
    PodSpec,
    RestoreInput,
    RunContainerInput,
    SnapshotInfo,
    SnapshotInput,
    SnapshotRef,
    SnapshotVerification,
    StopContainerInput,
    VerifySnapshotInput,
    WorkspaceUsage,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")

ClientFactory = Callable[[str], PodHostClient]
"""Builds (or reuses) a `PodHostClient` whose only pinned key is the given known_hosts line."""


def app_error(exc: PodHostError) -> ApplicationError:
    return ApplicationError(str(exc), type=exc.type_name, non_retryable=not exc.retryable)


async def heartbeating(work: Awaitable[T], every: float = 1.0) -> T:
    """Awaits `work`, heartbeating meanwhile; a cancelled activity cancels the work."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every)
            if done:
                return task.result()
            activity.heartbeat()
    finally:
        if not task.done():
            task.cancel()


class PodHostActivities:
    def __init__(
        self,
        clients: ClientFactory,
        s3: S3Client,
        sessions: async_sessionmaker[AsyncSession],
        *,
        cache_budget_bytes: int = 0,
    ) -> None:
        self._clients = clients
        self._s3 = s3
        self._sessions = sessions
        self._cache_budget_bytes = cache_budget_bytes

    def _client(self, placement: PodPlacement) -> PodHostClient:
        host = placement.host
        return self._clients(known_hosts_line(host.address, host.port, placement.host_key))

    async def _call(self, work: Awaitable[T]) -> T:
        try:
            return await heartbeating(work)
        except PodHostError as exc:
            raise app_error(exc) from exc

    async def _with_secrets(self, spec: PodSpec) -> PodSpec:
        async with self._sessions() as session:
            pod = await session.get(Pod, uuid.UUID(spec.pod_id))
            secrets: dict[str, str] = dict(pod.secrets or {}) if pod is not None else {}
        if not secrets:
            return spec
        return spec.model_copy(update={"env": {**spec.env, **secrets}})

    @activity.defn
    async def pod_run_container(self, input: PodRunInput) -> ContainerInfo:
        spec = await self._with_secrets(input.spec)
        client = self._client(input.placement)
        host = input.placement.host
        return await self._call(client.run_container(RunContainerInput(host=host, spec=spec)))

    @activity.defn
    async def pod_stop_container(self, input: PodHostCall) -> ContainerInfo:
        client = self._client(input.placement)
        ref = StopContainerInput(host=input.placement.host, pod_id=input.pod_id)
        return await self._call(client.stop_container(ref))

    @activity.defn
    async def pod_remove_container_if_present(self, input: PodHostCall) -> bool:
        client = self._client(input.placement)
        ref = ContainerRef(host=input.placement.host, pod_id=input.pod_id)
        return await self._call(client.remove_container_if_present(ref))

    @activity.defn
    async def pod_remove_workspace_if_present(self, input: PodHostCall) -> bool:
        client = self._client(input.placement)
        ref = ContainerRef(host=input.placement.host, pod_id=input.pod_id)
        return await self._call(client.remove_workspace_if_present(ref))

    @activity.defn
    async def pod_container_state(self, input: PodHostCall) -> ContainerInfo:
        client = self._client(input.placement)
        ref = ContainerRef(host=input.placement.host, pod_id=input.pod_id)
        return await self._call(client.container_state(ref))

    @activity.defn
    async def pod_workspace_usage(self, input: PodHostCall) -> WorkspaceUsage:
        client = self._client(input.placement)
        ref = ContainerRef(host=input.placement.host, pod_id=input.pod_id)
        return await self._call(client.workspace_usage(ref))

    @activity.defn
    async def pod_snapshot_to_s3(self, input: PodSnapshotInput) -> SnapshotInfo:
        client = self._client(input.placement)
        request = SnapshotInput(
            host=input.placement.host, pod_id=input.pod_id, bucket=input.bucket, key=input.key
        )
        return await self._call(client.snapshot_to_s3(request))

    @activity.defn
    async def pod_verify_snapshot(self, input: SnapshotRef) -> SnapshotVerification:
        # Verification needs no host; any client shares the same S3 client. A snapshot
        # whose parts S3 hashed as we did is checked by its ETag; others are re-read.
        client = self._clients("")
        return await self._call(
            client.verify_snapshot(VerifySnapshotInput(snapshot=input, rehash=input.etag is None))
        )

    @activity.defn
    async def pod_restore_from_s3(self, input: PodRestoreInput) -> ContainerInfo:
        spec = await self._with_secrets(input.spec)
        client = self._client(input.placement)
        request = RestoreInput(host=input.placement.host, spec=spec, snapshot=input.snapshot)
        return await self._call(client.restore_from_s3(request))

    @activity.defn
    async def pod_keep_cached(self, input: PodKeepCachedInput) -> KeepCachedResult:
        """After a verified hibernate: keep the stopped pod on its host within the budget
        (or remove it, as freeing the host did), evicting the host's oldest kept pods."""
        client = self._client(input.placement)
        request = KeepCachedInput(
            host=input.placement.host,
            pod_id=input.pod_id,
            snapshot=input.snapshot,
            budget_bytes=self._cache_budget_bytes,
        )
        return await self._call(client.keep_cached(request))

    @activity.defn
    async def pod_delete_snapshot_if_present(self, input: SnapshotRef) -> None:
        """Deletes the snapshot object; a missing object is fine (S3 deletes are idempotent)."""
        try:
            await asyncio.to_thread(self._s3.delete_object, Bucket=input.bucket, Key=input.key)
        except Exception as exc:  # botocore errors: retry later
            raise ApplicationError(f"delete s3://{input.bucket}/{input.key}: {exc}") from exc


class PinnedClients:
    """One `PodHostClient` per pinned host key, built on first use and kept.

    A host's key is pinned at registration; each client trusts exactly one key, so a
    host can never be confused with another that registered a different key.
    """

    def __init__(self, make: Callable[[list[str]], PodHostClient]) -> None:
        self._make = make
        self._clients: dict[str, PodHostClient] = {}

    def __call__(self, known_hosts_line: str) -> PodHostClient:
        client = self._clients.get(known_hosts_line)
        if client is None:
            lines = [known_hosts_line] if known_hosts_line else []
            client = self._clients[known_hosts_line] = self._make(lines)
        return client
