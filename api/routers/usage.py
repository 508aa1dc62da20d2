"""`GET /v1/usage`: what the caller's team used and owes this month (API key)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import func, select

from api.deps import CurrentAccount, SessionDep
from api.errors import ApiError
from db.models import CreditEntry, UsageRecord
from tenantry.rules.metering import month_start, next_month, parse_month
from tenantry.rules.plans import FREE_POD_HOURS_PER_MONTH

router = APIRouter(prefix="/v1/usage", tags=["usage"])


class TierUsage(BaseModel):
    tier: str
    hours: Decimal
    billable_hours: Decimal
    cost_usd: Decimal


class UsageView(BaseModel):
    month: str
    billed_account_id: str
    by_tier: list[TierUsage]
    total_cost_usd: Decimal
    free_hours_left: Decimal
    credits_usd: Decimal | None


@router.get("", response_model=UsageView)
async def usage(
    *,
    account: CurrentAccount,
    session: SessionDep,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
) -> UsageView:
    try:
        start = parse_month(month) if month else month_start(datetime.now(UTC))
    except ValueError as exc:
        raise ApiError(422, "invalid_input", str(exc), {"field": "month"}) from exc
    billed = account.billing_account_id
    rows = (
        await session.execute(
            select(
                UsageRecord.tier,
                func.sum(UsageRecord.seconds),
                func.sum(UsageRecord.seconds - UsageRecord.free_seconds),
                func.sum(UsageRecord.cost),
            )
            .where(
                UsageRecord.billed_account_id == billed,
                UsageRecord.hour >= start,
                UsageRecord.hour < next_month(start),
                UsageRecord.kind.like("runtime%"),
            )
            .group_by(UsageRecord.tier)
            .order_by(UsageRecord.tier)
        )
    ).all()
    free_used = await session.scalar(
        select(func.coalesce(func.sum(UsageRecord.free_seconds), 0)).where(
            UsageRecord.billed_account_id == billed,
            UsageRecord.hour >= start,
            UsageRecord.hour < next_month(start),
        )
    )
    balance = await session.scalar(
        select(CreditEntry.balance_after)
        .where(CreditEntry.account_id == billed)
        .order_by(CreditEntry.id.desc())
        .limit(1)
    )
    by_tier = [
        TierUsage(
            tier=tier,
            hours=_hours(seconds),
            billable_hours=_hours(billable),
            cost_usd=Decimal(cost or 0),
        )
        for tier, seconds, billable, cost in rows
    ]
    free_left = Decimal(FREE_POD_HOURS_PER_MONTH) - _hours(free_used or 0)
    return UsageView(
        month=f"{start:%Y-%m}",
        billed_account_id=str(billed),
        by_tier=by_tier,
        total_cost_usd=sum((t.cost_usd for t in by_tier), Decimal(0)),
        free_hours_left=max(free_left, Decimal(0)),
        credits_usd=balance,
    )


def _hours(seconds: int | Decimal) -> Decimal:
    return (Decimal(seconds) / 3600).quantize(Decimal("0.001"))
