"""The health sweep: checks every tenant's `GET /health` (as the signup gate does),
records what it found, and lists pod hosts whose heartbeats went stale."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from db.models import Host, Tenant, TenantHealth
from tenantry.contracts.rollout import HealthSweepPage, HealthSweepPageInput, StaleHosts


class HealthSweepActivities:
    """Checks tenants' `GET /health` (as the signup gate does) and records what it found."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        heartbeat_timeout: timedelta,
    ) -> None:
        self._sessions = sessions
        self._heartbeat_timeout = heartbeat_timeout

    @activity.defn
    async def health_sweep_page(self, inp: HealthSweepPageInput) -> HealthSweepPage:
        """One page of tenants that have a server (active and suspended), by id."""
        query = (
            select(Tenant.id, Tenant.subdomain, Tenant.status, Tenant.server_ip, Tenant.dns_record)
            .where(Tenant.status.in_(("active", "suspended")), Tenant.server_ip.is_not(None))
            .order_by(Tenant.id)
            .limit(inp.limit)
        )
        if inp.after_tenant_id:
            query = query.where(Tenant.id > uuid.UUID(inp.after_tenant_id))
        async with self._sessions() as session:
            tenants = (await session.execute(query)).all()
        limit = asyncio.Semaphore(inp.concurrency)
        async with httpx.AsyncClient(timeout=inp.timeout_seconds) as http:

            async def check(ip: str, host: str | None) -> tuple[int | None, str, str | None]:
                async with limit:
                    return await _check(http, ip, host)

            checks = await asyncio.gather(*(check(str(t[3]), t[4]) for t in tenants))
        page = HealthSweepPage(
            checked=len(tenants),
            next_after=str(tenants[-1][0]) if len(tenants) == inp.limit else None,
        )
        now = datetime.now(UTC)
        async with self._sessions() as session:
            for (tid, subdomain, status, _ip, _dns), (code, detail, version) in zip(
                tenants, checks, strict=True
            ):
                healthy = code == 200
                expected = status == "active"
                values = {
                    "tenant_id": tid,
                    "healthy": healthy,
                    "expected": expected,
                    "status_code": code,
                    "detail": detail,
                    "version": version,
                    "checked_at": now,
                }
                await session.execute(
                    insert(TenantHealth)
                    .values(values)
                    .on_conflict_do_update(
                        index_elements=[TenantHealth.tenant_id],
                        set_={k: v for k, v in values.items() if k != "tenant_id"},
                    )
                )
                if healthy:
                    page.healthy += 1
                    if version is not None:
                        await session.execute(
                            update(Tenant)
                            .where(and_(Tenant.id == tid, Tenant.status == "active"))
                            .values(version=version)
                        )
                else:
                    page.unhealthy.append(subdomain)
                    if expected:
                        activity.logger.warning(
                            "tenant %s (%s) is unhealthy: %s", tid, subdomain, detail
                        )
            await session.commit()
        return page

    @activity.defn
    async def health_stale_hosts(self) -> StaleHosts:
        """Active pod hosts whose last heartbeat is older than the heartbeat timeout."""
        cutoff = datetime.now(UTC) - self._heartbeat_timeout
        async with self._sessions() as session:
            names = (
                await session.scalars(
                    select(Host.name)
                    .where(
                        Host.status == "active",
                        (Host.last_heartbeat_at.is_(None)) | (Host.last_heartbeat_at < cutoff),
                    )
                    .order_by(Host.name)
                    .limit(100)
                )
            ).all()
        for name in names:
            activity.logger.warning("pod host %s missed its heartbeats", name)
        return StaleHosts(names=list(names))


async def _check(
    http: httpx.AsyncClient, ip: str, host: str | None
) -> tuple[int | None, str, str | None]:
    """(status code, detail, reported version) of one tenant's `GET /health`."""
    try:
        response = await http.get(f"http://{ip}/health", headers={"Host": host} if host else {})
    except httpx.HTTPError as exc:
        return None, f"no answer: {type(exc).__name__}", None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    version = body.get("version")
    detail = f"HTTP {response.status_code} {body.get('status', '')}".strip()
    return response.status_code, detail, str(version) if version is not None else None
