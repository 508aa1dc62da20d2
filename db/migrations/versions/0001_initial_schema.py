"""Initial schema: accounts, signups and tenants, hosts and pods, metering, audit.

Encrypted columns (`tenants.secrets`, `pods.secrets`) are plain text holding Fernet tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 03:02:32.160829
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("team_owner_id", sa.Uuid(), nullable=True),
        sa.Column("stripe_customer_id", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'closed')", name=op.f("ck_accounts_status")
        ),
        sa.ForeignKeyConstraint(
            ["team_owner_id"],
            ["accounts.id"],
            name=op.f("fk_accounts_team_owner_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("email", name=op.f("uq_accounts_email")),
        sa.UniqueConstraint("stripe_customer_id", name=op.f("uq_accounts_stripe_customer_id")),
    )
    op.create_index(op.f("ix_accounts_team_owner_id"), "accounts", ["team_owner_id"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_target_at", "audit_log", ["target", "at"], unique=False)
    op.create_table(
        "hosts",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("ssh_port", sa.Integer(), server_default="22", nullable=False),
        sa.Column("ssh_host_key", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="registering", nullable=False),
        sa.Column("capacity_cpu_millis", sa.Integer(), server_default="0", nullable=False),
        sa.Column("capacity_memory_mb", sa.Integer(), server_default="0", nullable=False),
        sa.Column("used_cpu_millis", sa.Integer(), server_default="0", nullable=False),
        sa.Column("used_memory_mb", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "metrics",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("last_heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('registering', 'active', 'draining', 'offline')",
            name=op.f("ck_hosts_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hosts")),
        sa.UniqueConstraint("name", name=op.f("uq_hosts_name")),
    )
    op.create_table(
        "processed_webhook_events",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_processed_webhook_events")),
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("subdomain", sa.Text(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="provisioning", nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("signup_id", sa.Uuid(), nullable=True),
        sa.Column("server_id", sa.BigInteger(), nullable=True),
        sa.Column("server_name", sa.Text(), nullable=True),
        sa.Column("server_ip", sa.Text(), nullable=True),
        sa.Column("dns_record", sa.Text(), nullable=True),
        sa.Column("version", sa.Text(), nullable=True),
        sa.Column("stripe_customer_id", sa.Text(), nullable=True),
        sa.Column("stripe_subscription_id", sa.Text(), nullable=True),
        sa.Column("secrets", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('provisioning', 'active', 'suspended', 'deleting', 'deleted', 'failed')",
            name=op.f("ck_tenants_status"),
        ),
        sa.CheckConstraint("tier IN ('starter', 'pro')", name=op.f("ck_tenants_tier")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("signup_id", name=op.f("uq_tenants_signup_id")),
        sa.UniqueConstraint(
            "stripe_subscription_id", name=op.f("uq_tenants_stripe_subscription_id")
        ),
        sa.UniqueConstraint("subdomain", name=op.f("uq_tenants_subdomain")),
    )
    op.create_index(op.f("ix_tenants_status"), "tenants", ["status"], unique=False)
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_api_keys_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_account_id"), "api_keys", ["account_id"], unique=False)
    op.create_index(op.f("ix_api_keys_prefix"), "api_keys", ["prefix"], unique=False)
    op.create_table(
        "credits_ledger",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("delta", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("balance_after", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_credits_ledger_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credits_ledger")),
        sa.UniqueConstraint("reference", name=op.f("uq_credits_ledger_reference")),
    )
    op.create_index(
        "ix_credits_ledger_account_id_id", "credits_ledger", ["account_id", "id"], unique=False
    )
    op.create_table(
        "pods",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="creating", nullable=False),
        sa.Column("host_id", sa.Uuid(), nullable=True),
        sa.Column("container_id", sa.Text(), nullable=True),
        sa.Column(
            "config",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("secrets", sa.Text(), nullable=True),
        sa.Column("idle_timeout_seconds", sa.Integer(), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_activity_source", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('creating', 'running', 'hibernating', 'hibernated', 'restoring', "
            "'destroying', 'destroyed', 'failed')",
            name=op.f("ck_pods_status"),
        ),
        sa.CheckConstraint(
            "tier IN ('dev.small', 'dev.medium', 'dev.large', 'dev.xlarge')",
            name=op.f("ck_pods_tier"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_pods_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_pods_host_id_hosts"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pods")),
    )
    op.create_index(op.f("ix_pods_account_id"), "pods", ["account_id"], unique=False)
    op.create_index(op.f("ix_pods_host_id"), "pods", ["host_id"], unique=False)
    op.create_index(op.f("ix_pods_status"), "pods", ["status"], unique=False)
    op.create_index(
        "uq_pods_account_id_name_live",
        "pods",
        ["account_id", "name"],
        unique=True,
        postgresql_where=sa.text("status <> 'destroyed'"),
    )
    op.create_table(
        "signups",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("subdomain", sa.Text(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("step", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("status_token_hash", sa.Text(), nullable=False),
        sa.Column("stripe_customer_id", sa.Text(), nullable=True),
        sa.Column("stripe_checkout_session_id", sa.Text(), nullable=True),
        sa.Column("stripe_subscription_id", sa.Text(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'paid', 'awaiting_approval', 'provisioning', 'active', "
            "'failed', 'expired', 'rejected')",
            name=op.f("ck_signups_status"),
        ),
        sa.CheckConstraint("tier IN ('starter', 'pro')", name=op.f("ck_signups_tier")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_signups_tenant_id_tenants"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signups")),
        sa.UniqueConstraint(
            "stripe_checkout_session_id", name=op.f("uq_signups_stripe_checkout_session_id")
        ),
    )
    op.create_index(op.f("ix_signups_status"), "signups", ["status"], unique=False)
    op.create_index(
        "uq_signups_live_subdomain",
        "signups",
        ["subdomain"],
        unique=True,
        postgresql_where=sa.text(
            "status IN ('pending', 'paid', 'awaiting_approval', 'provisioning', 'active')"
        ),
    )
    op.create_table(
        "team_invites",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("team_owner_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("invited_by_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_account_id", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["accepted_account_id"],
            ["accounts.id"],
            name=op.f("fk_team_invites_accepted_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_id"],
            ["accounts.id"],
            name=op.f("fk_team_invites_invited_by_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_owner_id"],
            ["accounts.id"],
            name=op.f("fk_team_invites_team_owner_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_invites")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_team_invites_token_hash")),
    )
    op.create_index(
        "uq_team_invites_open",
        "team_invites",
        ["team_owner_id", "email"],
        unique=True,
        postgresql_where=sa.text("accepted_at IS NULL AND revoked_at IS NULL"),
    )
    op.create_table(
        "pod_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("pod_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "tier IN ('dev.small', 'dev.medium', 'dev.large', 'dev.xlarge')",
            name=op.f("ck_pod_events_tier"),
        ),
        sa.ForeignKeyConstraint(
            ["pod_id"], ["pods.id"], name=op.f("fk_pod_events_pod_id_pods"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pod_events")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_pod_events_idempotency_key")),
    )
    op.create_index("ix_pod_events_pod_id_at", "pod_events", ["pod_id", "at"], unique=False)
    op.create_table(
        "provisioning_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("signup_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "tenant_id IS NOT NULL OR signup_id IS NOT NULL",
            name=op.f("ck_provisioning_log_subject"),
        ),
        sa.ForeignKeyConstraint(
            ["signup_id"],
            ["signups.id"],
            name=op.f("fk_provisioning_log_signup_id_signups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_provisioning_log_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioning_log")),
    )
    op.create_index(
        "ix_provisioning_log_signup_id_at", "provisioning_log", ["signup_id", "at"], unique=False
    )
    op.create_index(
        "ix_provisioning_log_tenant_id_at", "provisioning_log", ["tenant_id", "at"], unique=False
    )
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("pod_id", sa.Uuid(), nullable=False),
        sa.Column("s3_key", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="uploading", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('uploading', 'ready', 'failed', 'deleted')",
            name=op.f("ck_snapshots_status"),
        ),
        sa.ForeignKeyConstraint(
            ["pod_id"], ["pods.id"], name=op.f("fk_snapshots_pod_id_pods"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshots")),
        sa.UniqueConstraint("s3_key", name=op.f("uq_snapshots_s3_key")),
    )
    op.create_index(
        "ix_snapshots_pod_id_created_at", "snapshots", ["pod_id", "created_at"], unique=False
    )
    op.create_table(
        "usage_records",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("pod_id", sa.Uuid(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.Text(), server_default="runtime", nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("billed_account_id", sa.Uuid(), nullable=False),
        sa.Column("billed_customer_id", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("cost", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("stripe_identifier", sa.Text(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_usage_records_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["billed_account_id"],
            ["accounts.id"],
            name=op.f("fk_usage_records_billed_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["pod_id"], ["pods.id"], name=op.f("fk_usage_records_pod_id_pods"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_records")),
        sa.UniqueConstraint(
            "pod_id", "hour", "kind", name=op.f("uq_usage_records_pod_id_hour_kind")
        ),
        sa.UniqueConstraint("stripe_identifier", name=op.f("uq_usage_records_stripe_identifier")),
    )
    op.create_index(
        op.f("ix_usage_records_account_id"), "usage_records", ["account_id"], unique=False
    )
    op.create_index(
        "ix_usage_records_billed_account_id_hour",
        "usage_records",
        ["billed_account_id", "hour"],
        unique=False,
    )
    op.create_index(
        "ix_usage_records_unreported",
        "usage_records",
        ["hour"],
        unique=False,
        postgresql_where=sa.text("reported_at IS NULL"),
    )


def downgrade() -> None:

    op.drop_index(
        "ix_usage_records_unreported",
        table_name="usage_records",
        postgresql_where=sa.text("reported_at IS NULL"),
    )
    op.drop_index("ix_usage_records_billed_account_id_hour", table_name="usage_records")
    op.drop_index(op.f("ix_usage_records_account_id"), table_name="usage_records")
    op.drop_table("usage_records")
    op.drop_index("ix_snapshots_pod_id_created_at", table_name="snapshots")
    op.drop_table("snapshots")
    op.drop_index("ix_provisioning_log_tenant_id_at", table_name="provisioning_log")
    op.drop_index("ix_provisioning_log_signup_id_at", table_name="provisioning_log")
    op.drop_table("provisioning_log")
    op.drop_index("ix_pod_events_pod_id_at", table_name="pod_events")
    op.drop_table("pod_events")
    op.drop_index(
        "uq_team_invites_open",
        table_name="team_invites",
        postgresql_where=sa.text("accepted_at IS NULL AND revoked_at IS NULL"),
    )
    op.drop_table("team_invites")
    op.drop_index(
        "uq_signups_live_subdomain",
        table_name="signups",
        postgresql_where=sa.text(
            "status IN ('pending', 'paid', 'awaiting_approval', 'provisioning', 'active')"
        ),
    )
    op.drop_index(op.f("ix_signups_status"), table_name="signups")
    op.drop_table("signups")
    op.drop_index(
        "uq_pods_account_id_name_live",
        table_name="pods",
        postgresql_where=sa.text("status <> 'destroyed'"),
    )
    op.drop_index(op.f("ix_pods_status"), table_name="pods")
    op.drop_index(op.f("ix_pods_host_id"), table_name="pods")
    op.drop_index(op.f("ix_pods_account_id"), table_name="pods")
    op.drop_table("pods")
    op.drop_index("ix_credits_ledger_account_id_id", table_name="credits_ledger")
    op.drop_table("credits_ledger")
    op.drop_index(op.f("ix_api_keys_prefix"), table_name="api_keys")
    op.drop_index(op.f("ix_api_keys_account_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_index(op.f("ix_tenants_status"), table_name="tenants")
    op.drop_table("tenants")
    op.drop_table("processed_webhook_events")
    op.drop_table("hosts")
    op.drop_index("ix_audit_log_target_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_accounts_team_owner_id"), table_name="accounts")
    op.drop_table("accounts")
