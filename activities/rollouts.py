"""Rollouts: the database side of a rollout and each tenant's step.

A rollout's plan lives in `rollout_tenants` (a row per tenant not deleted when it
started), so the workflow carries a cursor, not the fleet. Each tenant's step is asked
of the tenant's own workflow as the `deploy_version` update, with the update id
`rollout-{id}`: the tenant's operations stay serialized (a rollout never deploys to a
tenant being suspended or resized), and a retried step is answered with the first
answer instead of deploying again.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from db.models import Rollout, RolloutTenant, Tenant
from tenantry.contracts.common import ErrorType, rollout_workflow_id, tenant_workflow_id
from tenantry.contracts.rollout import (
    ROLLOUT_FINAL,
    RolloutPrepared,
    RolloutRef,
    RolloutStatusRecord,
    RolloutTargets,
    RolloutTargetsInput,
    RolloutTenantStatus,
    TenantDeployInput,
    TenantDeployResult,
    VersionDeploy,
)
from workflows.tenant import TenantWorkflow

UPDATE_POLL = 5.0  # seconds between heartbeats while a tenant's deploy runs


class RolloutActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], client: Client) -> None:
        self._sessions = sessions
        self._client = client

    @activity.defn
    async def rollout_prepare(self, ref: RolloutRef) -> RolloutPrepared:
        """Plans the rollout once: active tenants pending, the others skipped with why.

        Deleted tenants get no row; tenants that become active later are not included.
        """
        rid = uuid.UUID(ref.rollout_id)
        async with self._sessions() as session:
            for skipped in (False, True):
                chosen = Tenant.status != "active" if skipped else Tenant.status == "active"
                rows = select(
                    literal(rid),
                    Tenant.id,
                    Tenant.subdomain,
                    literal("skipped" if skipped else "pending"),
                    func.concat("tenant is ", Tenant.status) if skipped else literal(None),
                    Tenant.version,
                ).where(chosen, Tenant.status != "deleted")
                await session.execute(
                    insert(RolloutTenant)
                    .from_select(
                        [
                            "rollout_id",
                            "tenant_id",
                            "subdomain",
                            "status",
                            "reason",
                            "from_version",
                        ],
                        rows,
                    )
                    .on_conflict_do_nothing()
                )
            await session.commit()
            grouped = await session.execute(
                select(RolloutTenant.status, func.count())
                .where(RolloutTenant.rollout_id == rid)
                .group_by(RolloutTenant.status)
            )
            counts: dict[str, int] = {status: count for status, count in grouped.all()}
        return RolloutPrepared(
            targets=sum(n for s, n in counts.items() if s != "skipped"),
            skipped=counts.get("skipped", 0),
        )

    @activity.defn
    async def rollout_targets(self, inp: RolloutTargetsInput) -> RolloutTargets:
        rid = uuid.UUID(inp.rollout_id)
        query = (
            select(RolloutTenant.tenant_id)
            .where(RolloutTenant.rollout_id == rid, RolloutTenant.status == "pending")
            .order_by(RolloutTenant.tenant_id)
            .limit(inp.limit)
        )
        if inp.after_tenant_id:
            query = query.where(RolloutTenant.tenant_id > uuid.UUID(inp.after_tenant_id))
        async with self._sessions() as session:
            ids = (await session.scalars(query)).all()
        return RolloutTargets(tenant_ids=[str(t) for t in ids])

    @activity.defn
    async def rollout_record_status(self, record: RolloutStatusRecord) -> None:
        values: dict[str, object] = {
            "status": record.status.value,
            "phase": record.phase,
            "error": record.error,
        }
        if record.status in ROLLOUT_FINAL:
            values |= {"live": None, "finished_at": datetime.now(UTC)}
        async with self._sessions() as session:
            await session.execute(
                update(Rollout).where(Rollout.id == uuid.UUID(record.rollout_id)).values(values)
            )
            await session.commit()

    @activity.defn
    async def rollout_finish_pending(self, ref: RolloutRef) -> int:
        """Tenants the rollout did not get to (halted or cancelled) become `not_started`."""
        async with self._sessions() as session:
            result = await session.execute(
                update(RolloutTenant)
                .where(
                    RolloutTenant.rollout_id == uuid.UUID(ref.rollout_id),
                    RolloutTenant.status == "pending",
                )
                .values(status="not_started", reason="the rollout stopped before this tenant")
            )
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)

    @activity.defn
    async def rollout_deploy_tenant(self, inp: TenantDeployInput) -> TenantDeployResult:
        """One tenant's step, done by its TenantWorkflow; the outcome is recorded here."""
        handle = self._client.get_workflow_handle(tenant_workflow_id(inp.tenant_id))
        request = VersionDeploy(
            rollout_id=inp.rollout_id, tag=inp.tag, health_budget_seconds=inp.health_budget_seconds
        )
        try:
            running = await handle.start_update(
                TenantWorkflow.deploy_version,
                request,
                id=rollout_workflow_id(inp.rollout_id),
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            )
            while True:
                try:
                    result: TenantDeployResult = await asyncio.wait_for(
                        asyncio.shield(running.result()), UPDATE_POLL
                    )
                    break
                except TimeoutError:
                    activity.heartbeat("deploying")
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type == ErrorType.TENANT_BUSY:
                raise ApplicationError(cause.message, type=ErrorType.TENANT_BUSY) from exc
            if isinstance(cause, ApplicationError) and cause.type == ErrorType.CONFLICT:
                result = _skipped(inp.tenant_id, cause.message)
            else:
                result = TenantDeployResult(
                    tenant_id=inp.tenant_id,
                    status=RolloutTenantStatus.FAILED,
                    reason=str(cause or exc),
                )
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            result = _skipped(inp.tenant_id, "the tenant's workflow is not running")
        await self._record_tenant(inp.rollout_id, result)
        return result

    async def _record_tenant(self, rollout_id: str, result: TenantDeployResult) -> None:
        values: dict[str, object] = {"status": result.status.value, "reason": result.reason}
        if result.from_version is not None:
            values["from_version"] = result.from_version
        if result.to_version is not None:
            values["to_version"] = result.to_version
        async with self._sessions() as session:
            await session.execute(
                update(RolloutTenant)
                .where(
                    RolloutTenant.rollout_id == uuid.UUID(rollout_id),
                    RolloutTenant.tenant_id == uuid.UUID(result.tenant_id),
                )
                .values(values)
            )
            await session.commit()


def _skipped(tenant_id: str, reason: str) -> TenantDeployResult:
    return TenantDeployResult(
        tenant_id=tenant_id, status=RolloutTenantStatus.SKIPPED, reason=reason
    )
