"""Fleet operations: rollouts with what each did to every tenant, and the health sweep's
latest finding per tenant."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, in_values, updated_at, uuid_pk

ROLLOUT_STATUSES = (
    "running",
    "paused",
    "cancelling",
    "halting",
    "completed",
    "failed",
    "cancelled",
)
ROLLOUT_PHASES = ("canary", "fleet", "done")
ROLLOUT_TENANT_STATUSES = (
    "pending",
    "updated",
    "already",
    "rolled_back",
    "rollback_failed",
    "failed",
    "skipped",
    "not_started",
)


class Rollout(Base):
    """One rollout of an image tag; `live` is true until it ends, so two cannot run at once."""

    __tablename__ = "rollouts"
    __table_args__ = (
        CheckConstraint(in_values("status", ROLLOUT_STATUSES), name="status"),
        CheckConstraint(in_values("phase", ROLLOUT_PHASES), name="phase"),
        CheckConstraint("parallelism >= 1 AND canary >= 0", name="sizes"),
        CheckConstraint("live IS NULL OR live", name="live"),
        UniqueConstraint("live"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tag: Mapped[str]
    parallelism: Mapped[int]
    canary: Mapped[int]
    status: Mapped[str] = mapped_column(default="running", server_default="running")
    phase: Mapped[str] = mapped_column(default="canary", server_default="canary")
    error: Mapped[str | None]
    live: Mapped[bool | None] = mapped_column(default=True, server_default="true")
    created_by: Mapped[str] = mapped_column(default="admin", server_default="admin")
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    finished_at: Mapped[datetime | None]


class RolloutTenant(Base):
    """What a rollout did to one tenant (a row per tenant not deleted when it started)."""

    __tablename__ = "rollout_tenants"
    __table_args__ = (
        CheckConstraint(in_values("status", ROLLOUT_TENANT_STATUSES), name="status"),
        Index("ix_rollout_tenants_rollout_id_status", "rollout_id", "status"),
    )

    rollout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rollouts.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    subdomain: Mapped[str]
    status: Mapped[str] = mapped_column(default="pending", server_default="pending")
    reason: Mapped[str | None]
    from_version: Mapped[str | None]
    to_version: Mapped[str | None]
    updated_at: Mapped[datetime] = updated_at()


class TenantHealth(Base):
    """The health sweep's latest check of a tenant; `expected` is false when it is meant to
    be down (suspended), so only unexpected failures need an operator."""

    __tablename__ = "tenant_health"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    healthy: Mapped[bool]
    expected: Mapped[bool] = mapped_column(default=True, server_default="true")
    status_code: Mapped[int | None]
    detail: Mapped[str | None]
    version: Mapped[str | None]
    checked_at: Mapped[datetime]
