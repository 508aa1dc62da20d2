"""Typed messages of the pod workflow, shared by api/, workflows/ and activities/.

They sit beside `tenantry.contracts` (same rules: one model in, one out, fields added
compatibly) in a module of their own so the pod layer can grow without touching the
signup and tenant messages.

Pod events (the `pod_events` table, read by metering): `kind` is the status the pod
entered (`creating`, `running`, `hibernating`, `hibernated`, `restoring`, `destroying`,
`destroyed`, `failed`) and `at` when; a pod is billed for the time between a `running`
event and the next event of another kind.
"""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, Field

from tenantry.contracts.podhost import ContainerInfo, PodHostRef, PodSpec, SnapshotRef
from tenantry.rules.plans import PodTier


class PodStatus(enum.StrEnum):
    CREATING = "creating"
    RUNNING = "running"
    HIBERNATING = "hibernating"
    HIBERNATED = "hibernated"
    RESTORING = "restoring"
    DESTROYING = "destroying"
    DESTROYED = "destroyed"
    FAILED = "failed"


class PodPlacement(BaseModel):
    """A host reserved for a pod, with the key it must present (pinned at registration)."""

    host_id: str
    host: PodHostRef
    host_key: str


class PodSnapshotRecord(BaseModel):
    snapshot_id: str
    ref: SnapshotRef
    taken_at: datetime


class PodInput(BaseModel):
    """Starts a pod's workflow; also the state carried across continue-as-new."""

    pod_id: str
    account_id: str
    name: str
    spec: PodSpec  # without secrets: they are added from the database on the host
    bucket: str
    snapshots_to_keep: int = 3
    idle_timeout_seconds: int | None = None
    heartbeat_seconds: float = 10
    # How often a running pod's workspace is measured (None: never); see WorkspaceUsage.
    workspace_check_seconds: float | None = None
    # carried state
    status: PodStatus = PodStatus.CREATING
    placement: PodPlacement | None = None
    container: ContainerInfo | None = None
    snapshots: list[PodSnapshotRecord] = Field(default_factory=list)
    event_seq: int = 0
    last_activity: datetime | None = None
    last_activity_source: str | None = None
    error: str | None = None
    # Set while the workspace is full: why its writes fail (the pod keeps running).
    workspace_full: str | None = None
    # The host keeping the hibernated pod's stopped copy (see KeepCachedInput), if any.
    cached_on: PodPlacement | None = None
    # Hosts that may still keep an older copy (the pod was restored elsewhere since).
    stale_copies: list[PodPlacement] = Field(default_factory=list)


class PodRequest(BaseModel):
    """The argument of the hibernate, restore, keepalive and destroy updates."""

    source: str = "api"


class PodState(BaseModel):
    """What the `state` query and every update answer."""

    pod_id: str
    status: PodStatus
    host: str | None = None
    urls: dict[str, str] = Field(default_factory=dict)
    last_activity: datetime | None = None
    last_activity_source: str | None = None
    snapshot: SnapshotRef | None = None
    pending: str | None = None
    error: str | None = None


# --- activity inputs --------------------------------------------------------------------
class ReserveHostInput(BaseModel):
    pod_id: str
    tier: PodTier
    # The host that keeps the pod's stopped copy: chosen when it is available and has room.
    prefer_host_id: str | None = None


class PodStatusChange(BaseModel):
    """One state change of a pod: the row is updated and one pod event recorded, once."""

    pod_id: str
    status: PodStatus
    tier: PodTier
    idempotency_key: str
    host_id: str | None = None
    clear_host: bool = False
    container_id: str | None = None
    endpoints: dict[str, str] | None = None
    error: str | None = None
    last_activity: datetime | None = None
    last_activity_source: str | None = None
    status_reason: str | None = Field(
        default=None,
        description="who asked for this status: api, idle, credits; workspace_full while "
        "a running pod's workspace is full",
    )


class PodHostCall(BaseModel):
    """A pod-host operation on a placed pod: which host (and its pinned key), which pod."""

    placement: PodPlacement
    pod_id: str


class PodRunInput(BaseModel):
    placement: PodPlacement
    spec: PodSpec


class PodSnapshotInput(BaseModel):
    placement: PodPlacement
    pod_id: str
    bucket: str
    key: str
    snapshot_id: str


class PodKeepCachedInput(BaseModel):
    placement: PodPlacement
    pod_id: str
    snapshot: SnapshotRef


class PodRestoreInput(BaseModel):
    placement: PodPlacement
    spec: PodSpec
    snapshot: SnapshotRef


class SnapshotStatusChange(BaseModel):
    snapshot_id: str
    pod_id: str
    status: str
    ref: SnapshotRef | None = None
    s3_key: str | None = None


class PodActivity(BaseModel):
    """Something used the pod (the keepalive API, later the proxy and SSH sessions)."""

    pod_id: str
    at: datetime
    source: str


class PodRoutes(BaseModel):
    """A pod's edge routes: for each service, its container's ``host:port``, or None for
    the waker (the pod is not running: requests go to the API's wake endpoint)."""

    pod_id: str
    account_id: str
    name: str
    targets: dict[str, str | None]
