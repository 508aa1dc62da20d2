"""Inputs and results of the pod-host operations: plain data, safe to cross Temporal.

Nothing from asyncssh, boto3 or Docker appears here; the operations map SDK answers to
these models before returning. Identifiers are DNS-label-like so that container, volume
and label names built from them need no escaping anywhere.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tenantry.rules.plans import POD_PLANS, PodTier

Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
ServiceName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")]
ContainerRuntime = Literal["runc", "runsc", "auto"]

POD_BASE_IMAGE = "tenantry/pod-base:1"
# The default image allowlist: our base image, any tag.
POD_BASE_IMAGE_PREFIX = "tenantry/pod-base:"
# What a dev environment keeps after ``--cap-drop ALL`` (Docker's default set minus
# MKNOD, AUDIT_WRITE, NET_RAW, SETFCAP, SETPCAP, SYS_CHROOT): package managers chown
# and setuid files they unpack (CHOWN, FOWNER, FSETID, SETUID, SETGID), a root shell must
# read and write what other users own in the workspace (DAC_OVERRIDE), ``kill`` of a
# child running as another user (KILL), and a server on port 80 (NET_BIND_SERVICE).
# NET_RAW goes (no raw sockets, no ping spoofing), as does everything Docker drops already.
DEFAULT_POD_CAPABILITIES: tuple[str, ...] = (
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "NET_BIND_SERVICE",
    "SETGID",
    "SETUID",
)
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
    # The workspace filesystem's size; 0 means the tier's (POD_PLANS[tier].workspace_mb).
    workspace_mb: int = Field(default=0, ge=0)
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

    @property
    def workspace_limit_mb(self) -> int:
        return self.workspace_mb or POD_PLANS[self.tier].workspace_mb


class PodIsolation(_Model):
    """How pods of different accounts are kept apart on one host (settings decide it).

    ``runtime``: ``runsc`` (gVisor) unless ``runc`` is chosen on purpose; ``auto`` takes
    runsc when the host has it. ``publish_address``: the only address pod ports are
    published on (the one the edge dials); None means the host's SSH address.
    ``bridge_prefix`` starts every per-account bridge's name, which is what the host
    firewall matches on. ``workspace_root`` holds each workspace's ext4 image and mount;
    ``workspace_max_mb`` caps every workspace below its tier's size (a small dev or test
    machine, as ``--cpus`` is capped at the host's CPUs).
    """

    runtime: ContainerRuntime = "runsc"
    capabilities: tuple[str, ...] = DEFAULT_POD_CAPABILITIES
    publish_address: str | None = None
    bridge_prefix: str = Field(default="tnp", pattern=r"^[a-z][a-z0-9]{0,4}$")
    workspace_root: str = "/var/lib/tenantry/workspaces"
    workspace_max_mb: int | None = Field(default=None, ge=8)

    def workspace_mb(self, spec: PodSpec) -> int:
        """The size of ``spec``'s workspace filesystem on this host."""
        return min(spec.workspace_limit_mb, self.workspace_max_mb or spec.workspace_limit_mb)


def account_network(account_id: str) -> str:
    """The Docker network all of one account's pods on a host share (and no one else)."""
    return f"pods-{account_id}"


def account_bridge(prefix: str, account_id: str) -> str:
    """The Linux bridge of an account's network: the prefix plus a hash (15 chars at most)."""
    return prefix + hashlib.sha256(account_id.encode()).hexdigest()[: 15 - len(prefix)]


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


class WorkspaceUsage(_Model):
    """How full a pod's workspace filesystem is; ``over_quota`` once writes start failing.

    The workspace is its own ext4 filesystem of the tier's size, so a full one refuses
    writes with ENOSPC for that pod alone; ``over_quota`` lets the API say why.
    """

    pod_id: str
    used_bytes: int
    limit_bytes: int
    over_quota: bool


class ContainerInfo(_Model):
    """A pod's container on one host as Docker last reported it."""

    pod_id: str
    host: PodHostRef
    status: ContainerStatus
    container_id: str | None = None
    account_id: str | None = None
    runtime: str | None = None
    ports: list[PublishedPort] = Field(default_factory=list)
    # Set by a restore: "cache" when the host's kept copy was started (no download),
    # "s3" when the snapshot was downloaded; None for anything else (or an adopted pod).
    restored_from: Literal["cache", "s3"] | None = None
    # A digest of the config the container was made with (image, env, limits, runtime):
    # a kept container is started again only if the pod's config is still the same.
    config_digest: str | None = None

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


class KeepCachedInput(_Model):
    """After a hibernate whose snapshot S3 verified: keep the stopped pod on its host.

    ``snapshot`` is the verified copy the kept one must match to be used; ``budget_bytes``
    is the host's disk budget for kept pods (0: keep nothing, free the host as before).
    """

    host: PodHostRef
    pod_id: Identifier
    snapshot: SnapshotRef
    budget_bytes: int = Field(ge=0)


class KeepCachedResult(_Model):
    kept: bool  # False: the pod's copy was removed (no budget, or the budget's oldest)
    evicted: list[str] = Field(default_factory=list)  # pods whose kept copies were removed
    cached_bytes: int = 0  # disk the host's kept copies use now
