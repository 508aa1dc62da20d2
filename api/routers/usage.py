"""`GET /v1/usage`: what the caller's team used and owes this month (API key)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentAccount, SessionDep
from api.errors import ApiError
from api.responses import errors
from api.schemas.usage import TierUsage, UsageView
from db.repo.credits import latest_balance
from db.repo.usage import month_free_seconds, month_usage_by_tier
from tenantry.rules.metering import month_start, parse_month
from tenantry.rules.plans import FREE_POD_HOURS_PER_MONTH

router = APIRouter(prefix="/v1/usage", tags=["usage"], responses=errors(401))


@router.get("", response_model=UsageView, responses=errors(422))
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
    rows = await month_usage_by_tier(session, billed, start)
    free_used = await month_free_seconds(session, billed, start)
    balance = await latest_balance(session, billed)
    by_tier = [
        TierUsage(
            tier=tier,
            hours=_hours(seconds),
            billable_hours=_hours(billable),
            cost_usd=Decimal(cost or 0),
        )
        for tier, seconds, billable, cost in rows
    ]
    free_left = Decimal(FREE_POD_HOURS_PER_MONTH) - _hours(free_used)
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
