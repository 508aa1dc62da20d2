"""The health sweep's findings (admin token): the latest check of every tenant, and a
sweep on demand (the `health-sweep` schedule runs one every `HEALTH_SWEEP_INTERVAL`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from temporalio.common import WorkflowIDConflictPolicy

from api.deps import AdminDep, SessionDep, SettingsDep, TemporalDep
from db.models import Tenant, TenantHealth
from tenantry.contracts.common import HEALTH_SWEEP_SCHEDULE_ID
from tenantry.contracts.rollout import HealthSweepInput, HealthSweepResult
from workflows.health_sweep import HealthSweepWorkflow

router = APIRouter(prefix="/v1/admin/health", tags=["admin"], dependencies=[AdminDep])


class TenantHealthView(BaseModel):
    tenant_id: str
    subdomain: str
    tenant_status: str
    healthy: bool
    expected: bool
    status_code: int | None
    detail: str | None
    version: str | None
    checked_at: datetime


def health_view(h: TenantHealth, tenant: Tenant) -> TenantHealthView:
    return TenantHealthView(
        tenant_id=str(h.tenant_id),
        subdomain=tenant.subdomain,
        tenant_status=tenant.status,
        healthy=h.healthy,
        expected=h.expected,
        status_code=h.status_code,
        detail=h.detail,
        version=h.version,
        checked_at=h.checked_at,
    )


@router.get("", response_model=list[TenantHealthView])
async def tenant_health(
    *, session: SessionDep, unhealthy: Annotated[bool, Query()] = False
) -> list[TenantHealthView]:
    """Every tenant's latest check, unhealthy first; `unhealthy=true` lists only those."""
    query = (
        select(TenantHealth, Tenant)
        .join(Tenant, Tenant.id == TenantHealth.tenant_id)
        .order_by(TenantHealth.healthy, Tenant.subdomain)
        .limit(1000)
    )
    if unhealthy:
        query = query.where(TenantHealth.healthy.is_(False))
    return [health_view(h, t) for h, t in (await session.execute(query)).all()]


@router.post("/sweep", response_model=HealthSweepResult)
async def sweep_now(*, settings: SettingsDep, temporal: TemporalDep) -> HealthSweepResult:
    """Runs a sweep now and answers with its result."""
    started = datetime.now(UTC)
    result: HealthSweepResult = await temporal.execute_workflow(
        HealthSweepWorkflow.run,
        HealthSweepInput(),
        id=f"{HEALTH_SWEEP_SCHEDULE_ID}-manual-{started:%Y%m%dT%H%M%S%f}",
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return result
