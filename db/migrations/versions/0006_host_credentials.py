"""Host credentials: single-use join tokens, a hashed credential per host, admin states.

Hosts that exist already keep taking pods (`approved`); from now on a new host is
`pending` until an admin approves it. Their agents must register again with a join
token, since no credential exists for them yet.

Revision ID: 0006_host_credentials
Revises: 0005_idempotency_keys
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_host_credentials"
down_revision: str | None = "0005_idempotency_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOST_STATES = "'pending', 'approved', 'cordoned', 'draining', 'drained'"


def upgrade() -> None:
    op.add_column("hosts", sa.Column("state", sa.Text(), server_default="approved", nullable=False))
    op.alter_column("hosts", "state", server_default="pending")
    op.create_check_constraint(op.f("ck_hosts_state"), "hosts", f"state IN ({HOST_STATES})")
    op.add_column("hosts", sa.Column("credential_hash", sa.Text(), nullable=True))
    op.create_unique_constraint(op.f("uq_hosts_credential_hash"), "hosts", ["credential_hash"])
    op.create_table(
        "host_join_tokens",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("approved", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("host_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["host_id"],
            ["hosts.id"],
            name=op.f("fk_host_join_tokens_host_id_hosts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_join_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_host_join_tokens_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("host_join_tokens")
    op.drop_constraint(op.f("uq_hosts_credential_hash"), "hosts", type_="unique")
    op.drop_column("hosts", "credential_hash")
    op.drop_constraint(op.f("ck_hosts_state"), "hosts", type_="check")
    op.drop_column("hosts", "state")
