"""Metered usage: writing it so that metering an hour twice changes nothing, and
reading a month of it for the account that pays."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import UsageRecord
from tenantry.rules.metering import meter_identifier, next_month


def usage_identifier(pod_id: uuid.UUID, hour: datetime, kind: str = "runtime") -> str:
    """The business key as one string: Stripe's meter event `identifier`."""
    return meter_identifier(pod_id, hour, kind)


async def insert_usage_record(
    session: AsyncSession,
    *,
    pod_id: uuid.UUID,
    hour: datetime,
    tier: str,
    account_id: uuid.UUID,
    billed_account_id: uuid.UUID,
    billed_customer_id: str | None,
    quantity: Decimal,
    cost: Decimal,
    kind: str = "runtime",
) -> bool:
    """True if the (pod, hour, kind) record is new; an existing one is left untouched."""
    statement = (
        insert(UsageRecord)
        .values(
            pod_id=pod_id,
            hour=hour,
            kind=kind,
            tier=tier,
            account_id=account_id,
            billed_account_id=billed_account_id,
            billed_customer_id=billed_customer_id,
            quantity=quantity,
            cost=cost,
            stripe_identifier=usage_identifier(pod_id, hour, kind),
        )
        .on_conflict_do_nothing(
            index_elements=[UsageRecord.pod_id, UsageRecord.hour, UsageRecord.kind]
        )
        .returning(UsageRecord.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def month_usage_by_tier(
    session: AsyncSession, billed_account_id: uuid.UUID, start: datetime
) -> list[tuple[str, int | Decimal, int | Decimal, Decimal | None]]:
    """(tier, seconds, billable seconds, cost) of the month's runtime usage billed to
    the account, by tier (PostgreSQL sums bigints as numeric, so Decimals arrive)."""
    rows = await session.execute(
        select(
            UsageRecord.tier,
            func.sum(UsageRecord.seconds),
            func.sum(UsageRecord.seconds - UsageRecord.free_seconds),
            func.sum(UsageRecord.cost),
        )
        .where(
            UsageRecord.billed_account_id == billed_account_id,
            UsageRecord.hour >= start,
            UsageRecord.hour < next_month(start),
            UsageRecord.kind.like("runtime%"),
        )
        .group_by(UsageRecord.tier)
        .order_by(UsageRecord.tier)
    )
    return [(tier, seconds, billable, cost) for tier, seconds, billable, cost in rows.all()]


async def month_free_seconds(
    session: AsyncSession, billed_account_id: uuid.UUID, start: datetime
) -> Decimal:
    """The free seconds the account's usage took in the month (all kinds)."""
    used = await session.scalar(
        select(func.coalesce(func.sum(UsageRecord.free_seconds), 0)).where(
            UsageRecord.billed_account_id == billed_account_id,
            UsageRecord.hour >= start,
            UsageRecord.hour < next_month(start),
        )
    )
    return Decimal(used or 0)
