"""The warm pools' numbers for admins: servers by status, claims and misses, per pool."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import PoolClaim, PoolServer

PoolKeyTuple = tuple[str, str]


async def servers_by_status(session: AsyncSession) -> dict[PoolKeyTuple, dict[str, int]]:
    rows = await session.execute(
        select(PoolServer.tier, PoolServer.location, PoolServer.status, func.count()).group_by(
            PoolServer.tier, PoolServer.location, PoolServer.status
        )
    )
    counts: dict[PoolKeyTuple, dict[str, int]] = {}
    for tier, location, status, n in rows.all():
        counts.setdefault((tier, location), {})[status] = n
    return counts


async def claims_and_misses(session: AsyncSession) -> dict[PoolKeyTuple, tuple[int, int]]:
    rows = await session.execute(
        select(
            PoolClaim.tier,
            PoolClaim.location,
            func.count(PoolClaim.server_name),
            func.count().filter(PoolClaim.server_name.is_(None)),
        ).group_by(PoolClaim.tier, PoolClaim.location)
    )
    return {(tier, location): (hits, misses) for tier, location, hits, misses in rows.all()}
