"""Inputs and results of the pod-host operations: plain data, safe to cross Temporal.

Nothing from asyncssh, boto3 or Docker appears here; the operations map SDK answers to
these models before returning. Identifiers are DNS-label-like so that container, volume
and label names built from them need no escaping anywhere.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tenantry.rules.plans import PodTier

Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
ServiceName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")]
ContainerRuntime = Literal["runc", "runsc", "auto"]

POD_BASE_IMAGE = "tenantry/pod-base:1"
SNAPSHOT_FORMAT = "tar+zstd;workspace;v1"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PodHostRef(_Model):
    """How to reach a pod host over SSH; its key must be in the pinned known_hosts."""

    name: str
    address: str
    port: int = 22


class ServicePort(_Model):
    """A port a pod serves; it is published on the host's own address at a port Docker picks."""

    name: ServiceName
    port: int = Field(ge=1, le=65535)


class PodSpec(_Model):
    """What a pod is, independent of where it runs."""

    pod_id: Identifier
    account_id: Identifier
    tier: PodTier = PodTier.SMALL
    image: str = POD_BASE_IMAGE
    services: list[ServicePort] = Field(
        default_factory=lambda: [ServicePort(name="http", port=8080)]
    )
    # Secrets reach the container through an env file, never a command line. They are
    # kept out of repr; encrypting them in Temporal payloads is the payload codec's job.
    env: dict[str, str] = Field(default_factory=dict, repr=False)

    @field_validator("env")
    @classmethod
    def _env_file_safe(cls, env: dict[str, str]) -> dict[str, str]:
        """Docker env files hold one NAME=value per line: no newlines, shell-safe names."""
        for name, value in env.items():
            if not ENV_NAME.fullmatch(name) or "\n" in value or "\r" in value or "\0" in value:
                raise ValueError(f"environment variable {name!r} cannot be passed to a pod")
        return env

    @property
    def container_name(self) -> str:
        return f"pod-{self.pod_id}"

    @property
    def volume_name(self) -> str:
        return workspace_volume(self.pod_id)


def container_name(pod_id: str) -> str:
    return f"pod-{pod_id}"


def workspace_volume(pod_id: str) -> str:
    return f"pod-{pod_id}-workspace"


ContainerStatus = Literal[
    "created", "running", "paused", "restarting", "removing", "exited", "dead", "absent"
]


class PublishedPort(_Model):
    name: str
    container_port: int
    host_address: str
    host_port: int


class ContainerInfo(_Model):
    """A pod's container on one host as Docker last reported it."""

    pod_id: str
    host: PodHostRef
    status: ContainerStatus
    container_id: str | None = None
    runtime: str | None = None
    ports: list[PublishedPort] = Field(default_factory=list)

    def url(self, service: str) -> str:
        """The loopback URL of a published service (what the edge proxy routes to)."""
        for p in self.ports:
            if p.name == service:
                return f"http://{p.host_address}:{p.host_port}"
        raise KeyError(service)


class RunContainerInput(_Model):
    host: PodHostRef
    spec: PodSpec


class ContainerRef(_Model):
    host: PodHostRef
    pod_id: Identifier


class StopContainerInput(_Model):
    host: PodHostRef
    pod_id: Identifier
    timeout_seconds: int = 10


class ExecInput(_Model):
    host: PodHostRef
    pod_id: Identifier
    argv: list[str]


class ExecResult(_Model):
    exit_status: int
    stdout: str
    stderr: str


class SnapshotRef(_Model):
    """Where a snapshot is and what its bytes must hash to (recorded when it was taken)."""

    bucket: str
    key: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int | None = None
    # S3's ETag, kept only when S3's MD5 of every part matched ours at upload: the stored
    # object is then the bytes we sent, and verifying it needs no re-read, only that the
    # ETag is still the same. None (older snapshots, or ETags that are not MD5s, as under
    # SSE-KMS): verification reads the object back and hashes it.
    etag: str | None = None


class SnapshotInput(_Model):
    host: PodHostRef
    pod_id: Identifier
    bucket: str
    key: str


class SnapshotInfo(_Model):
    """A finished snapshot: its object, its size and sha256 of the compressed bytes."""

    pod_id: str
    bucket: str
    key: str
    size: int
    sha256: str
    parts: int
    format: str = SNAPSHOT_FORMAT
    etag: str | None = None  # see SnapshotRef.etag

    def ref(self) -> SnapshotRef:
        return SnapshotRef(
            bucket=self.bucket, key=self.key, sha256=self.sha256, size=self.size, etag=self.etag
        )


class VerifySnapshotInput(_Model):
    snapshot: SnapshotRef
    # Re-reading the whole object proves the bytes; the default trusts S3's stored size
    # and the checksum tag we wrote, which is cheap and catches replaced objects.
    rehash: bool = False


class SnapshotVerification(_Model):
    snapshot: SnapshotRef
    size: int
    rehashed: bool


class RestoreInput(_Model):
    host: PodHostRef
    spec: PodSpec
    snapshot: SnapshotRef
