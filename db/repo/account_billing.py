"""Account billing reads and writes: an account's Stripe customer and subscription, and
what decides whether it may start a pod (`tenantry.rules.billing`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Account
from db.repo.credits import latest_balance
from db.repo.usage import month_free_seconds
from tenantry.rules.billing import BillingStanding
from tenantry.rules.metering import month_start


async def account_for_subscription(session: AsyncSession, subscription_id: str) -> uuid.UUID | None:
    """The account billed on this Stripe subscription, if it is an account's."""
    found: uuid.UUID | None = await session.scalar(
        select(Account.id).where(Account.billing_subscription_id == subscription_id)
    )
    return found


async def account_customer(session: AsyncSession, account_id: uuid.UUID) -> str | None:
    customer: str | None = await session.scalar(
        select(Account.stripe_customer_id).where(Account.id == account_id)
    )
    return customer


async def set_account_customer(
    session: AsyncSession, account_id: uuid.UUID, customer_id: str
) -> str:
    """Records the customer unless one is there already; returns the account's customer.

    Metering creates the same customer with the same idempotency key, so both paths
    agree on one customer per account.
    """
    await session.execute(
        update(Account)
        .where(Account.id == account_id, Account.stripe_customer_id.is_(None))
        .values(stripe_customer_id=customer_id)
    )
    await session.commit()
    return await account_customer(session, account_id) or customer_id


async def billing_standing(
    session: AsyncSession, billed_account_id: uuid.UUID, now: datetime
) -> BillingStanding:
    row = (
        await session.execute(
            select(Account.billing_subscription_id, Account.billing_overdue_since).where(
                Account.id == billed_account_id
            )
        )
    ).first()
    subscription, overdue = row if row is not None else (None, None)
    used = await month_free_seconds(session, billed_account_id, month_start(now))
    return BillingStanding(
        free_seconds_used=int(used),
        has_payment_method=subscription is not None,
        credit_balance=await latest_balance(session, billed_account_id),
        invoice_overdue=overdue is not None,
    )


async def billed_account_of(session: AsyncSession, account_id: uuid.UUID) -> uuid.UUID:
    """The account that pays for this one's usage (its team owner, or itself)."""
    owner = await session.scalar(select(Account.team_owner_id).where(Account.id == account_id))
    return owner or account_id
