"""Writing metered usage so that metering an hour twice changes nothing."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import UsageRecord
from tenantry.rules.metering import meter_identifier


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
