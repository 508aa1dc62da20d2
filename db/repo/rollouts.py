"""Rollouts as the API records and reads them.

At most one rollout is live: a partial unique index on `live` makes a second insert
fail (`RolloutAlreadyLive`), so two starts racing cannot both pass.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Rollout, RolloutTenant
from db.models.rollouts import ROLLOUT_TENANT_STATUSES
from db.repo.pagination import keyset_page

TENANTS_SHOWN = 1000


class RolloutAlreadyLive(Exception):
    """Another rollout is live; the session was rolled back."""

    def __init__(self, live: Rollout | None) -> None:
        super().__init__("another rollout is live")
        self.live = live


async def live_rollout(session: AsyncSession) -> Rollout | None:
    result: Rollout | None = await session.scalar(select(Rollout).where(Rollout.live.is_(True)))
    return result


async def add_rollout(session: AsyncSession, *, tag: str, parallelism: int, canary: int) -> Rollout:
    """A new live rollout (flushed; commit after), or RolloutAlreadyLive."""
    rollout = Rollout(tag=tag, parallelism=parallelism, canary=canary)
    session.add(rollout)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise RolloutAlreadyLive(await live_rollout(session)) from exc
    return rollout


def mark_failed(rollout: Rollout, error: str) -> None:
    """Ends a rollout as failed (its workflow is gone): it no longer blocks the next one."""
    rollout.status = "failed"
    rollout.phase = "done"
    rollout.live = None
    rollout.finished_at = datetime.now(UTC)
    rollout.error = error


async def get_rollout(
    session: AsyncSession, rollout_id: uuid.UUID, *, fresh: bool = False
) -> Rollout | None:
    """The rollout; `fresh` reads it again even when the session holds it."""
    return await session.get(Rollout, rollout_id, populate_existing=fresh)


async def recent_rollouts(
    session: AsyncSession, *, after: uuid.UUID | None, limit: int
) -> tuple[list[Rollout], bool]:
    """A page of rollouts, newest first, after rollout `after`; and whether more follow."""
    keys = [Rollout.created_at, Rollout.id]
    cursor = None if after is None else select(*keys).where(Rollout.id == after)
    rows, more = await keyset_page(
        session, select(Rollout), keys=keys, cursor=cursor, limit=limit, descending=True
    )
    return [row[0] for row in rows], more


async def tenant_counts(session: AsyncSession, rollout_id: uuid.UUID) -> dict[str, int]:
    """The rollout's tenants by status (every status, zero when none), and `total`."""
    counts = {s: 0 for s in ROLLOUT_TENANT_STATUSES}
    rows = await session.execute(
        select(RolloutTenant.status, func.count())
        .where(RolloutTenant.rollout_id == rollout_id)
        .group_by(RolloutTenant.status)
    )
    for status, count in rows.all():
        counts[status] = count
    counts["total"] = sum(counts.values())
    return counts


async def rollout_tenants(session: AsyncSession, rollout_id: uuid.UUID) -> Sequence[RolloutTenant]:
    """The first TENANTS_SHOWN of the rollout's tenants, by subdomain."""
    tenants = await session.scalars(
        select(RolloutTenant)
        .where(RolloutTenant.rollout_id == rollout_id)
        .order_by(RolloutTenant.subdomain)
        .limit(TENANTS_SHOWN)
    )
    return tenants.all()
