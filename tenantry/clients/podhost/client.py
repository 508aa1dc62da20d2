"""Pod operations on real pod hosts: Docker over SSH, snapshots through S3.

``PodHostClient`` is what the worker builds once from settings (SSH key, pinned
known_hosts, an S3 client) and what the pod activities will delegate to. Every method
takes one model from ``tenantry.contracts.podhost`` and returns one, raises only
``tenantry.clients.podhost.errors`` types, and can be re-run safely.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tenantry.clients.podhost.cache import PodCache
from tenantry.clients.podhost.containers import PodContainers
from tenantry.clients.podhost.errors import (
    ContainerNotFound,
    HostAuthFailed,
    HostKeyMismatch,
    HostUnreachable,
    PodConflict,
    PodHostError,
    RemoteCommandFailed,
    RuntimeUnavailable,
    SnapshotCorrupt,
    SnapshotNotFound,
    StorageUnavailable,
)
from tenantry.clients.podhost.snapshots import DEFAULT_PART_SIZE, PodSnapshots
from tenantry.clients.podhost.ssh import SshConnector
from tenantry.contracts.podhost import (
    ContainerInfo,
    ContainerRef,
    ExecInput,
    ExecResult,
    KeepCachedInput,
    KeepCachedResult,
    PodIsolation,
    RestoreInput,
    RunContainerInput,
    SnapshotInfo,
    SnapshotInput,
    SnapshotVerification,
    StopContainerInput,
    VerifySnapshotInput,
    WorkspaceUsage,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "ContainerNotFound",
    "HostAuthFailed",
    "HostKeyMismatch",
    "HostUnreachable",
    "PodCache",
    "PodConflict",
    "PodContainers",
    "PodHostClient",
    "PodHostError",
    "PodSnapshots",
    "RemoteCommandFailed",
    "RuntimeUnavailable",
    "SnapshotCorrupt",
    "SnapshotNotFound",
    "SshConnector",
    "StorageUnavailable",
]


class PodHostClient:
    """All pod-host operations behind one object with injected credentials and clients."""

    def __init__(
        self,
        *,
        ssh_key_path: Path,
        known_hosts: Path | Sequence[str],
        s3: S3Client,
        ssh_user: str | None = None,
        isolation: PodIsolation | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        connect_timeout: float = 10.0,
    ) -> None:
        self.ssh = SshConnector(
            ssh_key_path, known_hosts, user=ssh_user, connect_timeout=connect_timeout
        )
        self.containers = PodContainers(self.ssh, isolation=isolation)
        self.cache = PodCache(self.ssh, self.containers)
        self.snapshots = PodSnapshots(
            self.ssh, s3, self.containers, self.cache, part_size=part_size
        )

    async def run_container(self, input: RunContainerInput) -> ContainerInfo:
        return await self.containers.run_container(input)

    async def stop_container(self, input: StopContainerInput) -> ContainerInfo:
        return await self.containers.stop_container(input)

    async def remove_container_if_present(self, input: ContainerRef) -> bool:
        return await self.containers.remove_container_if_present(input)

    async def remove_workspace_if_present(self, input: ContainerRef) -> bool:
        return await self.containers.remove_workspace_if_present(input)

    async def container_state(self, input: ContainerRef) -> ContainerInfo:
        return await self.containers.container_state(input)

    async def workspace_usage(self, input: ContainerRef) -> WorkspaceUsage:
        return await self.containers.workspace_usage(input)

    async def exec_in_pod(self, input: ExecInput) -> ExecResult:
        return await self.containers.exec_in_pod(input)

    async def snapshot_to_s3(self, input: SnapshotInput) -> SnapshotInfo:
        return await self.snapshots.snapshot_to_s3(input)

    async def verify_snapshot(self, input: VerifySnapshotInput) -> SnapshotVerification:
        return await self.snapshots.verify_snapshot(input)

    async def restore_from_s3(self, input: RestoreInput) -> ContainerInfo:
        return await self.snapshots.restore_from_s3(input)

    async def keep_cached(self, input: KeepCachedInput) -> KeepCachedResult:
        return await self.cache.keep(input)
