"""Tenants as the API reads them: by id, by subdomain or Stripe ids, the admin's list,
a tenant's provisioning log and its latest health check."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ProvisioningLogEntry, Tenant, TenantHealth
from db.repo.pagination import keyset_page


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant | None:
    return await session.get(Tenant, tenant_id)


async def subdomain_taken(session: AsyncSession, subdomain: str) -> bool:
    """True while a tenant that has not failed holds the subdomain."""
    taken = await session.scalar(
        select(Tenant.id).where(Tenant.subdomain == subdomain, Tenant.status != "failed")
    )
    return taken is not None


async def recent_tenants(
    session: AsyncSession, status: str | None = None, *, after: uuid.UUID | None, limit: int
) -> tuple[list[Tenant], bool]:
    """A page of tenants, newest first, of one status when given, after tenant `after`;
    and whether more follow."""
    keys = [Tenant.created_at, Tenant.id]
    query = select(Tenant)
    if status:
        query = query.where(Tenant.status == status)
    cursor = None if after is None else select(*keys).where(Tenant.id == after)
    rows, more = await keyset_page(
        session, query, keys=keys, cursor=cursor, limit=limit, descending=True
    )
    return [row[0] for row in rows], more


async def provisioning_log(session: AsyncSession, tenant: Tenant) -> Sequence[ProvisioningLogEntry]:
    """The tenant's log, including its signup's entries from before it existed."""
    query = (
        select(ProvisioningLogEntry)
        .where(
            (ProvisioningLogEntry.tenant_id == tenant.id)
            | (ProvisioningLogEntry.signup_id == tenant.signup_id)
        )
        .order_by(ProvisioningLogEntry.id)
    )
    return (await session.scalars(query)).all()


async def tenant_health(session: AsyncSession, tenant_id: uuid.UUID) -> TenantHealth | None:
    return await session.get(TenantHealth, tenant_id)


async def health_checks(
    session: AsyncSession,
    *,
    unhealthy_only: bool = False,
    after: uuid.UUID | None,
    limit: int,
) -> tuple[list[tuple[TenantHealth, Tenant]], bool]:
    """A page of the tenants' latest checks with their tenants, unhealthy first, then by
    subdomain, after tenant `after`'s check; and whether more follow."""
    keys = [TenantHealth.healthy, Tenant.subdomain, Tenant.id]
    query = select(TenantHealth, Tenant).join(Tenant, Tenant.id == TenantHealth.tenant_id)
    if unhealthy_only:
        query = query.where(TenantHealth.healthy.is_(False))
    cursor = (
        None
        if after is None
        else select(*keys)
        .join(Tenant, Tenant.id == TenantHealth.tenant_id)
        .where(TenantHealth.tenant_id == after)
    )
    rows, more = await keyset_page(
        session, query, keys=keys, cursor=cursor, limit=limit, descending=False
    )
    return [(h, t) for h, t in rows], more


async def tenant_for_billing(
    session: AsyncSession, subscription_id: str | None, customer_id: str | None
) -> tuple[uuid.UUID, str | None] | None:
    """The tenant a Stripe subscription or customer belongs to, with its current
    subscription (None when neither is given or known).

    The caller compares the event's subscription with the current one: a customer's
    replaced subscription still finds the tenant by customer.
    """
    conditions = []
    if subscription_id:
        conditions.append(Tenant.stripe_subscription_id == subscription_id)
    if customer_id:
        conditions.append(Tenant.stripe_customer_id == customer_id)
    if not conditions:
        return None
    row = (
        await session.execute(
            select(Tenant.id, Tenant.stripe_subscription_id).where(or_(*conditions)).limit(1)
        )
    ).first()
    return None if row is None else (row[0], row[1])
