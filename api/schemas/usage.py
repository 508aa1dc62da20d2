"""`GET /v1/usage`: a month's usage by tier, what it costs, free hours and credits left."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel


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
