"""Account billing: the metered subscription an account pays pod usage with.

- `accounts.billing_subscription_id`: the Stripe subscription with one metered price per
  pod tier and one for snapshot storage, made once when a card is added (unique: one
  subscription is one account's).
- `accounts.billing_payment_method_id`: the card it is charged to (its default).
- `accounts.billing_past_due_since`: an invoice failed; the grace period runs from here.
- `accounts.billing_overdue_since`: the grace period ended unpaid; no pod starts until
  an invoice is paid.

Revision ID: 0008_account_billing
Revises: 0007_self_serve_accounts
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_account_billing"
down_revision: str | None = "0007_self_serve_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("billing_subscription_id", sa.Text(), nullable=True))
    op.create_unique_constraint(
        op.f("uq_accounts_billing_subscription_id"), "accounts", ["billing_subscription_id"]
    )
    op.add_column("accounts", sa.Column("billing_payment_method_id", sa.Text(), nullable=True))
    op.add_column(
        "accounts", sa.Column("billing_past_due_since", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "accounts", sa.Column("billing_overdue_since", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("accounts", "billing_overdue_since")
    op.drop_column("accounts", "billing_past_due_since")
    op.drop_column("accounts", "billing_payment_method_id")
    op.drop_constraint(op.f("uq_accounts_billing_subscription_id"), "accounts", type_="unique")
    op.drop_column("accounts", "billing_subscription_id")
