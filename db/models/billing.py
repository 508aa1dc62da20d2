"""Metered usage, the credits ledger and the Stripe webhook events already handled.

Every table has a business key so that writers use `INSERT ... ON CONFLICT` and a
re-run (metering an hour twice, a redelivered webhook) has no second effect.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at

USAGE_KINDS = ("runtime", "snapshot_storage")


class UsageRecord(Base):
    """One pod's usage of one kind in one hour: `quantity` hours (or GB-hours) at `cost` USD.

    `kind` is `runtime:{tier}` or `snapshot`. `stripe_identifier` (`{pod_id}:{hour}:{kind}`)
    is the meter event identifier, so Stripe also counts a re-sent report once;
    `reported_at` is set when Stripe accepted it.
    """

    __tablename__ = "usage_records"
    __table_args__ = (
        UniqueConstraint("pod_id", "hour", "kind"),
        Index("ix_usage_records_billed_account_id_hour", "billed_account_id", "hour"),
        Index("ix_usage_records_unreported", "hour", postgresql_where=text("reported_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    pod_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pods.id", ondelete="RESTRICT"))
    hour: Mapped[datetime]  # start of the hour, UTC
    kind: Mapped[str] = mapped_column(default="runtime", server_default="runtime")
    tier: Mapped[str]
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="RESTRICT"), index=True
    )
    billed_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="RESTRICT")
    )
    billed_customer_id: Mapped[str | None]  # Stripe customer of the team owner
    quantity: Mapped[Decimal]
    cost: Mapped[Decimal]
    # Exact integers (see tenantry.rules.metering): runtime seconds or GB-seconds, the part the
    # free tier covered, and the billable value sent to Stripe's meter `event_name`.
    seconds: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    free_seconds: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    meter_value: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    event_name: Mapped[str | None]
    stripe_identifier: Mapped[str] = mapped_column(unique=True)
    reported_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()


class MeteringRun(Base):
    """An hour whose usage records are all written and reported; catch-up starts after it."""

    __tablename__ = "metering_runs"

    hour: Mapped[datetime] = mapped_column(primary_key=True)
    records: Mapped[int] = mapped_column(default=0, server_default="0")
    completed_at: Mapped[datetime] = created_at()


class CreditEntry(Base):
    """A change to an account's credit balance; `reference` makes each change happen once."""

    __tablename__ = "credits_ledger"
    __table_args__ = (Index("ix_credits_ledger_account_id_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
    delta: Mapped[Decimal]
    reason: Mapped[str]
    balance_after: Mapped[Decimal]
    reference: Mapped[str] = mapped_column(unique=True)
    created_at: Mapped[datetime] = created_at()


class ProcessedWebhookEvent(Base):
    """A Stripe event already acted on; inserting its id first makes delivery at-most-once."""

    __tablename__ = "processed_webhook_events"

    event_id: Mapped[str] = mapped_column(primary_key=True)
    type: Mapped[str]
    received_at: Mapped[datetime] = created_at()
    payload: Mapped[dict[str, Any] | None]
