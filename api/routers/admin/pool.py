"""The warm pools of tenant servers (admin): size, claims, misses and what they cost.

Every pool that is configured or has servers or claims is listed; the cost is that of
the servers a pool holds now, at the plan's server price (tenantry.rules.plans).
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AdminDep, SessionDep, SettingsDep
from api.responses import errors
from api.schemas.pool import PoolStatus, PoolView
from db.repo import pool as repo
from tenantry.rules.plans import TENANT_PLANS, TenantTier, pool_monthly_cents

router = APIRouter(
    prefix="/v1/admin/pool", tags=["admin"], dependencies=[AdminDep], responses=errors(401)
)


@router.get("", response_model=PoolStatus)
async def pool_status(*, session: SessionDep, settings: SettingsDep) -> PoolStatus:
    """Each pool's configured size, ready servers, claims, misses and monthly cost."""
    servers = await repo.servers_by_status(session)
    claims = await repo.claims_and_misses(session)
    configured = {tuple(k.split("/", 1)): v for k, v in settings.server_pool_sizes.items()}
    pools = []
    for tier, location in sorted({*configured, *servers, *claims}):
        counts = servers.get((tier, location), {})
        hits, misses = claims.get((tier, location), (0, 0))
        held = counts.get("ready", 0) + counts.get("creating", 0)
        pools.append(
            PoolView(
                tier=tier,
                location=location,
                size=configured.get((tier, location), 0),
                ready=counts.get("ready", 0),
                creating=counts.get("creating", 0),
                claims=hits,
                misses=misses,
                server_monthly_cents=TENANT_PLANS[TenantTier(tier)].server_monthly_cents,
                monthly_cost_cents=pool_monthly_cents(tier, held),
            )
        )
    return PoolStatus(pools=pools, monthly_cost_cents=sum(p.monthly_cost_cents for p in pools))
