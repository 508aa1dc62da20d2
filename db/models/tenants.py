"""Signups, the tenants they become, and the provisioning log of both."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, in_values, updated_at, uuid_pk
from db.types import EncryptedJSON

SIGNUP_STATUSES = (
    "pending",
    "paid",
    "awaiting_approval",
    "provisioning",
    "active",
    "failed",
    "expired",
    "rejected",
)
# A subdomain is taken while a signup for it is in one of these states.
LIVE_SIGNUP_STATUSES = ("pending", "paid", "awaiting_approval", "provisioning", "active")
TENANT_STATUSES = ("provisioning", "active", "suspended", "deleting", "deleted", "failed")
TENANT_TIERS = ("starter", "pro")


class Signup(Base):
    __tablename__ = "signups"
    __table_args__ = (
        CheckConstraint(in_values("status", SIGNUP_STATUSES), name="status"),
        CheckConstraint(in_values("tier", TENANT_TIERS), name="tier"),
        Index(
            "uq_signups_live_subdomain",
            "subdomain",
            unique=True,
            postgresql_where=text(in_values("status", LIVE_SIGNUP_STATUSES)),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str]
    subdomain: Mapped[str]
    tier: Mapped[str]
    status: Mapped[str] = mapped_column(default="pending", server_default="pending", index=True)
    step: Mapped[str | None]
    error: Mapped[str | None]
    status_token_hash: Mapped[str]
    stripe_customer_id: Mapped[str | None]
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(unique=True)
    stripe_subscription_id: Mapped[str | None]
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    paid_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class Tenant(Base):
    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint(in_values("status", TENANT_STATUSES), name="status"),
        CheckConstraint(in_values("tier", TENANT_TIERS), name="tier"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    subdomain: Mapped[str] = mapped_column(unique=True)
    tier: Mapped[str]
    status: Mapped[str] = mapped_column(
        default="provisioning", server_default="provisioning", index=True
    )
    email: Mapped[str | None]
    signup_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    server_id: Mapped[int | None] = mapped_column(BigInteger)
    server_name: Mapped[str | None]
    server_ip: Mapped[str | None]
    dns_record: Mapped[str | None]
    version: Mapped[str | None]  # image tag the tenant stack runs (rollouts)
    stripe_customer_id: Mapped[str | None]
    stripe_subscription_id: Mapped[str | None] = mapped_column(unique=True)
    secrets: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON())
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    deleted_at: Mapped[datetime | None]


class ProvisioningLogEntry(Base):
    __tablename__ = "provisioning_log"
    __table_args__ = (
        CheckConstraint("tenant_id IS NOT NULL OR signup_id IS NOT NULL", name="subject"),
        Index("ix_provisioning_log_tenant_id_at", "tenant_id", "at"),
        Index("ix_provisioning_log_signup_id_at", "signup_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    signup_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("signups.id", ondelete="CASCADE")
    )
    action: Mapped[str]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    at: Mapped[datetime] = created_at()
