"""Prepaid credits and snapshot storage: why a pod has its status, when a snapshot went.

- `pods.status_reason`: who asked for the current status when it was asked for (`api`,
  `idle`, `credits`), so a pod hibernated by an empty balance says so.
- `snapshots.deleted_at`: snapshot storage is billed until this time, not after.

Revision ID: 0003_prepaid_credits
Revises: 0002_metering
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_prepaid_credits"
down_revision: str | None = "0002_metering"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("pods", sa.Column("status_reason", sa.Text(), nullable=True))
    op.add_column("snapshots", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("snapshots", "deleted_at")
    op.drop_column("pods", "status_reason")
