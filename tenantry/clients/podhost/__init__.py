"""The pod-host client: Docker over SSH on a pinned host, and workspace snapshots in S3.

`client.PodHostClient` is the one entry point; `containers`, `snapshots` and `ssh` are its
parts, `errors` its error tree. The data it takes and returns is in
`tenantry.contracts.podhost`.
"""

from tenantry.clients.podhost.client import PodHostClient
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

__all__ = [
    "ContainerNotFound",
    "HostAuthFailed",
    "HostKeyMismatch",
    "HostUnreachable",
    "PodConflict",
    "PodHostClient",
    "PodHostError",
    "RemoteCommandFailed",
    "RuntimeUnavailable",
    "SnapshotCorrupt",
    "SnapshotNotFound",
    "StorageUnavailable",
]
