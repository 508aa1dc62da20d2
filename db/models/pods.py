"""Pod hosts, pods, the pod events metering reads, and pod snapshots."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, in_values, updated_at, uuid_pk
from db.types import EncryptedJSON

HOST_STATUSES = ("registering", "active", "draining", "offline")
# What an admin allows a host to do, apart from whether its agent reports (`status`):
# only an `approved` host gets new pods.
HOST_STATES = ("pending", "approved", "cordoned", "draining", "drained")
POD_STATUSES = (
    "creating",
    "running",
    "hibernating",
    "hibernated",
    "restoring",
    "destroying",
    "destroyed",
    "failed",
)
POD_TIERS = ("dev.small", "dev.medium", "dev.large", "dev.xlarge")
SNAPSHOT_STATUSES = ("uploading", "ready", "failed", "deleted")


class Host(Base):
    """A Docker host that runs pods; reached over SSH with a pinned host key.

    `status` is what its agent's reports say (active, or offline when silent); `state` is
    what an admin decided (pending until approved, cordoned, draining, drained). Its agent
    authenticates with a per-host credential of which only the SHA-256 is kept.
    """

    __tablename__ = "hosts"
    __table_args__ = (
        CheckConstraint(in_values("status", HOST_STATUSES), name="status"),
        CheckConstraint(in_values("state", HOST_STATES), name="state"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(unique=True)
    address: Mapped[str]
    ssh_port: Mapped[int] = mapped_column(default=22, server_default="22")
    ssh_host_key: Mapped[str]  # "ssh-ed25519 AAAA...", pinned at registration
    status: Mapped[str] = mapped_column(default="registering", server_default="registering")
    state: Mapped[str] = mapped_column(default="pending", server_default="pending")
    credential_hash: Mapped[str | None] = mapped_column(unique=True)
    capacity_cpu_millis: Mapped[int] = mapped_column(default=0, server_default="0")
    capacity_memory_mb: Mapped[int] = mapped_column(default=0, server_default="0")
    used_cpu_millis: Mapped[int] = mapped_column(default=0, server_default="0")
    used_memory_mb: Mapped[int] = mapped_column(default=0, server_default="0")
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    last_heartbeat_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class HostJoinToken(Base):
    """A single-use, expiring token an admin minted for one new host to register with.

    Only its SHA-256 is kept; `used_at` is set in the registration's transaction, so a
    token registers one host at most.
    """

    __tablename__ = "host_join_tokens"

    id: Mapped[uuid.UUID] = uuid_pk()
    token_hash: Mapped[str] = mapped_column(unique=True)
    approved: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    host_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("hosts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()


class Pod(Base):
    __tablename__ = "pods"
    __table_args__ = (
        CheckConstraint(in_values("status", POD_STATUSES), name="status"),
        CheckConstraint(in_values("tier", POD_TIERS), name="tier"),
        # Names are unique per account among pods that still exist.
        Index(
            "uq_pods_account_id_name_live",
            "account_id",
            "name",
            unique=True,
            postgresql_where=text("status <> 'destroyed'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str]
    tier: Mapped[str]
    status: Mapped[str] = mapped_column(default="creating", server_default="creating", index=True)
    host_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("hosts.id", ondelete="SET NULL"), index=True
    )
    container_id: Mapped[str | None]
    config: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    secrets: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON())
    idle_timeout_seconds: Mapped[int | None]
    last_activity_at: Mapped[datetime | None]
    last_activity_source: Mapped[str | None]
    # Who asked for the current status (`api`, `idle`, `credits`), where one did.
    status_reason: Mapped[str | None]
    error: Mapped[str | None]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    destroyed_at: Mapped[datetime | None]


class PodEvent(Base):
    """A change in a pod's runtime (started, stopped, tier changed); metering sums these.

    `idempotency_key` (e.g. `{workflow_id}:{step}`) lets a retried activity record once.
    """

    __tablename__ = "pod_events"
    __table_args__ = (
        CheckConstraint(in_values("tier", POD_TIERS), name="tier"),
        Index("ix_pod_events_pod_id_at", "pod_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    pod_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pods.id", ondelete="CASCADE"))
    kind: Mapped[str]
    tier: Mapped[str]
    at: Mapped[datetime] = created_at()
    idempotency_key: Mapped[str | None] = mapped_column(unique=True)


class Snapshot(Base):
    __tablename__ = "snapshots"
    __table_args__ = (
        CheckConstraint(in_values("status", SNAPSHOT_STATUSES), name="status"),
        Index("ix_snapshots_pod_id_created_at", "pod_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    pod_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pods.id", ondelete="CASCADE"))
    s3_key: Mapped[str] = mapped_column(unique=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None]
    status: Mapped[str] = mapped_column(default="uploading", server_default="uploading")
    created_at: Mapped[datetime] = created_at()
    completed_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]  # storage is billed from completed_at until then
