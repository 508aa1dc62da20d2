"""Self-serve accounts: mailed one-time verification links, stored as token digests.

Revision ID: 0007_self_serve_accounts
Revises: 0006_host_credentials
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_self_serve_accounts"
down_revision: str | None = "0006_host_credentials"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_verifications",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_verifications_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_verifications")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_verifications_token_hash")),
    )
    op.create_index(
        op.f("ix_account_verifications_email"), "account_verifications", ["email"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_account_verifications_email"), table_name="account_verifications")
    op.drop_table("account_verifications")
