"""The warm pools as admins see them (`GET /v1/admin/pool`, `tenantry pool status`)."""

from __future__ import annotations

from pydantic import BaseModel


class PoolView(BaseModel):
    tier: str
    location: str
    size: int  # configured (0: off)
    ready: int  # booted, unassigned
    creating: int
    claims: int  # signups that got a warm server
    misses: int  # signups that found the pool empty and created cold
    server_monthly_cents: int
    monthly_cost_cents: int  # of the servers the pool holds now (ready and creating)


class PoolStatus(BaseModel):
    pools: list[PoolView]
    monthly_cost_cents: int
