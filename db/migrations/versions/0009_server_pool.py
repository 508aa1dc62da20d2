"""The warm pool of tenant servers: `pool_servers` and `pool_claims`.

Revision ID: 0009_server_pool
Revises: 0008_account_billing
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_server_pool"
down_revision: str | None = "0008_account_billing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'creating', 'ready', 'claimed', 'retiring'"


def _now() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "pool_servers",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="creating", nullable=False),
        sa.Column("server_id", sa.BigInteger(), nullable=True),
        sa.Column("server_ip", sa.Text(), nullable=True),
        sa.Column("secrets", sa.Text(), nullable=True),
        sa.Column("signup_id", sa.Uuid(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        _now(),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_pool_servers_status")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_pool_servers")),
        sa.UniqueConstraint("signup_id", name=op.f("uq_pool_servers_signup_id")),
    )
    op.create_index(
        "ix_pool_servers_tier_location_status", "pool_servers", ["tier", "location", "status"]
    )
    op.create_table(
        "pool_claims",
        sa.Column("signup_id", sa.Uuid(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("server_name", sa.Text(), nullable=True),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("signup_id", name=op.f("pk_pool_claims")),
    )
    op.create_index("ix_pool_claims_tier_location", "pool_claims", ["tier", "location"])


def downgrade() -> None:
    op.drop_index("ix_pool_claims_tier_location", table_name="pool_claims")
    op.drop_table("pool_claims")
    op.drop_index("ix_pool_servers_tier_location_status", table_name="pool_servers")
    op.drop_table("pool_servers")
