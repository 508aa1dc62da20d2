"""Fleet operations: rollouts, what each did to every tenant, the health sweep's findings.

Revision ID: 0004_rollouts
Revises: 0003_prepaid_credits
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_rollouts"
down_revision: str | None = "0003_prepaid_credits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLLOUT_STATUSES = (
    "'running', 'paused', 'cancelling', 'halting', 'completed', 'failed', 'cancelled'"
)
TENANT_STATUSES = (
    "'pending', 'updated', 'already', 'rolled_back', 'rollback_failed', 'failed', "
    "'skipped', 'not_started'"
)


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tag", sa.Text(), nullable=False),
        sa.Column("parallelism", sa.Integer(), nullable=False),
        sa.Column("canary", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), server_default="running", nullable=False),
        sa.Column("phase", sa.Text(), server_default="canary", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("live", sa.Boolean(), server_default="true", nullable=True),
        sa.Column("created_by", sa.Text(), server_default="admin", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"status IN ({ROLLOUT_STATUSES})", name=op.f("ck_rollouts_status")),
        sa.CheckConstraint("phase IN ('canary', 'fleet', 'done')", name=op.f("ck_rollouts_phase")),
        sa.CheckConstraint("parallelism >= 1 AND canary >= 0", name=op.f("ck_rollouts_sizes")),
        sa.CheckConstraint("live IS NULL OR live", name=op.f("ck_rollouts_live")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollouts")),
        sa.UniqueConstraint("live", name=op.f("uq_rollouts_live")),
    )
    op.create_table(
        "rollout_tenants",
        sa.Column("rollout_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("subdomain", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("from_version", sa.Text(), nullable=True),
        sa.Column("to_version", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.CheckConstraint(
            f"status IN ({TENANT_STATUSES})", name=op.f("ck_rollout_tenants_status")
        ),
        sa.ForeignKeyConstraint(
            ["rollout_id"],
            ["rollouts.id"],
            name=op.f("fk_rollout_tenants_rollout_id_rollouts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_rollout_tenants_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rollout_id", "tenant_id", name=op.f("pk_rollout_tenants")),
    )
    op.create_index(
        "ix_rollout_tenants_rollout_id_status", "rollout_tenants", ["rollout_id", "status"]
    )
    op.create_table(
        "tenant_health",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("healthy", sa.Boolean(), nullable=False),
        sa.Column("expected", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("version", sa.Text(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_health_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_health")),
    )


def downgrade() -> None:
    op.drop_table("tenant_health")
    op.drop_index("ix_rollout_tenants_rollout_id_status", table_name="rollout_tenants")
    op.drop_table("rollout_tenants")
    op.drop_table("rollouts")
