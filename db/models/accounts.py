"""Accounts, their API keys and team invites.

An account belongs to a team; the team owner's account is the one billed. An owner has
`team_owner_id` NULL, a member points at its owner, so the billed account is
`team_owner_id or id` and a team is one lookup away without a table of its own.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, in_values, updated_at, uuid_pk

ACCOUNT_STATUSES = ("active", "suspended", "closed")


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint(in_values("status", ACCOUNT_STATUSES), name="status"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(unique=True)  # stored lower-case
    name: Mapped[str | None]
    status: Mapped[str] = mapped_column(default="active", server_default="active")
    team_owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="RESTRICT"), index=True
    )
    stripe_customer_id: Mapped[str | None] = mapped_column(unique=True)
    # Pod usage billing (db/migrations 0008): the metered subscription, its card, and
    # an unpaid invoice's grace period (past due) and its end (overdue: no pod starts).
    billing_subscription_id: Mapped[str | None] = mapped_column(unique=True)
    billing_payment_method_id: Mapped[str | None]
    billing_past_due_since: Mapped[datetime | None]
    billing_overdue_since: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    @property
    def billing_account_id(self) -> uuid.UUID:
        """The account whose Stripe customer pays for this one's usage."""
        return self.team_owner_id or self.id


class ApiKey(Base):
    """Only a digest is stored; the plaintext is shown once (see tenantry.crypto).

    `key_hash` (unique) is how a presented key is found; `prefix` is for display only.
    """

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None]
    prefix: Mapped[str] = mapped_column(index=True)
    key_hash: Mapped[str] = mapped_column(unique=True)
    created_at: Mapped[datetime] = created_at()
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class TeamInvite(Base):
    __tablename__ = "team_invites"
    __table_args__ = (
        # One open invite per address and team: re-inviting refreshes it.
        Index(
            "uq_team_invites_open",
            "team_owner_id",
            "email",
            unique=True,
            postgresql_where=text("accepted_at IS NULL AND revoked_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    team_owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    email: Mapped[str]
    token_hash: Mapped[str] = mapped_column(unique=True)
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at()
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None]


class AccountVerification(Base):
    """A mailed self-serve sign-up link: only its token's digest, spent once.

    The row is written for every `POST /v1/accounts`, whether or not the address has an
    account (so both answers cost the same work). Verifying it creates the account, or
    adds a new key to the account the address already has; `account_id` records which.
    """

    __tablename__ = "account_verifications"

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(index=True)  # stored lower-case
    token_hash: Mapped[str] = mapped_column(unique=True)
    created_at: Mapped[datetime] = created_at()
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE")
    )
