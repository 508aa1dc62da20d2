"""Tenant health (admin): the health sweep's latest check of every tenant, and a sweep
on demand (the `health-sweep` schedule runs one every `HEALTH_SWEEP_INTERVAL`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from temporalio.common import WorkflowIDConflictPolicy

from api.deps import AdminDep, SessionDep, SettingsDep, TemporalDep
from api.pagination import Page, PageDep
from api.responses import errors
from api.schemas.health import TenantHealthView, health_view
from db.repo.tenants import health_checks
from tenantry.contracts.common import HEALTH_SWEEP_SCHEDULE_ID
from tenantry.contracts.rollout import HealthSweepInput, HealthSweepResult
from workflows.health_sweep import HealthSweepWorkflow

router = APIRouter(
    prefix="/v1/admin/health", tags=["admin"], dependencies=[AdminDep], responses=errors(401)
)


@router.get("", response_model=Page[TenantHealthView], responses=errors(404, 422))
async def tenant_health(
    *, session: SessionDep, page: PageDep, unhealthy: Annotated[bool, Query()] = False
) -> Page[TenantHealthView]:
    """Every tenant's latest check, unhealthy first; `unhealthy=true` lists only those.

    A page's cursor (`starting_after`) is a tenant id."""
    checks, more = await page.fetch(
        health_checks(
            session, unhealthy_only=unhealthy, after=page.starting_after, limit=page.limit
        )
    )
    return page.page([health_view(h, t) for h, t in checks], more)


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
