"""Metering: exact integer usage columns and the hours already metered.

Revision ID: 0002_metering
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_metering"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for column in ("seconds", "free_seconds", "meter_value"):
        op.add_column(
            "usage_records",
            sa.Column(column, sa.BigInteger(), server_default="0", nullable=False),
        )
    op.add_column("usage_records", sa.Column("event_name", sa.Text(), nullable=True))
    op.create_table(
        "metering_runs",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("records", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "completed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("hour", name=op.f("pk_metering_runs")),
    )


def downgrade() -> None:
    op.drop_table("metering_runs")
    for column in ("event_name", "meter_value", "free_seconds", "seconds"):
        op.drop_column("usage_records", column)
