"""Fleet rollouts (admin token): start one, follow it, pause, resume or cancel it.

A rollout is a `RolloutWorkflow` (`rollout-{id}`); the database keeps its status and what
it did to every tenant, so `GET` answers even while the worker is down. One rollout runs
at a time: starting another gets 409, as does a pause, resume or cancel that does not
fit the rollout's status.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import AdminDep, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError, not_found
from db.models import AuditLogEntry, Rollout, RolloutTenant
from db.models.rollouts import ROLLOUT_TENANT_STATUSES
from tenantry.contracts.common import SA_STAGE, ErrorType, rollout_workflow_id
from tenantry.contracts.rollout import RolloutControl, RolloutInput, RolloutStatus, valid_image_tag
from workflows.rollout import RolloutWorkflow

router = APIRouter(prefix="/v1/admin/rollouts", tags=["admin"], dependencies=[AdminDep])

TENANTS_SHOWN = 1000


class RolloutCreate(BaseModel):
    tag: str = Field(description="the image tag to run on every active tenant")
    parallelism: int = Field(default=1, ge=1, le=100, description="tenants at a time")
    canary: int = Field(
        default=1, ge=0, le=1000, description="tenants that must pass before the rest start"
    )


class RolloutOperation(BaseModel):
    reason: str | None = None


class RolloutTenantView(BaseModel):
    tenant_id: str
    subdomain: str
    status: str
    from_version: str | None
    to_version: str | None
    reason: str | None
    updated_at: datetime


class RolloutView(BaseModel):
    rollout_id: str
    tag: str
    parallelism: int
    canary: int
    status: str
    phase: str
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class RolloutDetail(RolloutView):
    counts: dict[str, int] = Field(description="tenants by status, and `total`")
    tenants: list[RolloutTenantView] = Field(description=f"the first {TENANTS_SHOWN}, by subdomain")


@router.post("", status_code=202, response_model=RolloutDetail)
async def start_rollout(
    *, body: RolloutCreate, session: SessionDep, settings: SettingsDep, temporal: TemporalDep
) -> RolloutDetail:
    """Starts rolling `tag` out: canary tenants first, then the rest, health-gated."""
    if not valid_image_tag(body.tag):
        raise ApiError(
            422,
            "invalid_input",
            "tag must be an image tag: letters, digits, '_', '.', '-', at most 128",
            {"fields": [{"field": "tag", "message": "not a valid image tag"}]},
        )
    await _close_orphaned(session, temporal)
    rollout = Rollout(tag=body.tag, parallelism=body.parallelism, canary=body.canary)
    session.add(rollout)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise _already_running(await _live(session)) from exc
    rollout_id = str(rollout.id)
    session.add(
        AuditLogEntry(
            actor="admin",
            action="rollout.start",
            target=f"rollout:{rollout_id}",
            details={"tag": body.tag, "parallelism": body.parallelism, "canary": body.canary},
        )
    )
    await session.commit()
    try:
        await temporal.start_workflow(
            RolloutWorkflow.run,
            RolloutInput(
                rollout_id=rollout_id,
                tag=body.tag,
                parallelism=body.parallelism,
                canary=body.canary,
                health_budget_seconds=settings.rollout_health_budget.total_seconds(),
                step_timeout_seconds=settings.step_timeout.total_seconds(),
                max_history_length=settings.rollout_history_limit,
            ),
            id=rollout_workflow_id(rollout_id),
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(SA_STAGE, RolloutStatus.RUNNING.value)]
            ),
            memo={"tag": body.tag, "parallelism": body.parallelism, "canary": body.canary},
        )
    except Exception:
        await session.delete(rollout)  # nothing half-done: no rollout without its workflow
        await session.commit()
        raise
    return await _detail(session, rollout.id)


@router.get("", response_model=list[RolloutView])
async def list_rollouts(
    *, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[RolloutView]:
    """Rollouts, newest first."""
    rows = await session.scalars(select(Rollout).order_by(Rollout.created_at.desc()).limit(limit))
    return [_view(r) for r in rows.all()]


@router.get("/{rollout_id}", response_model=RolloutDetail)
async def get_rollout(*, rollout_id: uuid.UUID, session: SessionDep) -> RolloutDetail:
    """Status, counts by tenant status, and what the rollout did to each tenant."""
    return await _detail(session, rollout_id)


@router.post("/{rollout_id}/pause", response_model=RolloutDetail)
async def pause_rollout(
    *,
    rollout_id: uuid.UUID,
    session: SessionDep,
    temporal: TemporalDep,
    body: RolloutOperation | None = None,
) -> RolloutDetail:
    """No new tenant starts; tenants in flight finish."""
    return await _control(rollout_id, "pause", body, session, temporal)


@router.post("/{rollout_id}/resume", response_model=RolloutDetail)
async def resume_rollout(
    *,
    rollout_id: uuid.UUID,
    session: SessionDep,
    temporal: TemporalDep,
    body: RolloutOperation | None = None,
) -> RolloutDetail:
    """A paused rollout goes on where it stopped."""
    return await _control(rollout_id, "resume", body, session, temporal)


@router.post("/{rollout_id}/cancel", response_model=RolloutDetail)
async def cancel_rollout(
    *,
    rollout_id: uuid.UUID,
    session: SessionDep,
    temporal: TemporalDep,
    body: RolloutOperation | None = None,
) -> RolloutDetail:
    """Tenants in flight finish, no other starts; updated tenants keep the new tag."""
    return await _control(rollout_id, "cancel", body, session, temporal)


async def _control(
    rollout_id: uuid.UUID,
    operation: str,
    body: RolloutOperation | None,
    session: SessionDep,
    temporal: TemporalDep,
) -> RolloutDetail:
    rollout = await session.get(Rollout, rollout_id)
    if rollout is None:
        raise not_found("rollout")
    handle = temporal.get_workflow_handle(rollout_workflow_id(str(rollout_id)))
    update = {
        "pause": RolloutWorkflow.pause,
        "resume": RolloutWorkflow.resume,
        "cancel": RolloutWorkflow.cancel,
    }[operation]
    control = RolloutControl(actor="admin", reason=body.reason if body else None)
    try:
        await handle.execute_update(update, control)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == ErrorType.CONFLICT:
            raise ApiError(409, "conflict", cause.message) from exc
        raise ApiError(502, "operation_failed", str(cause or exc)) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(409, "conflict", f"rollout is {rollout.status}") from exc
        raise
    session.add(
        AuditLogEntry(
            actor="admin",
            action=f"rollout.{operation}",
            target=f"rollout:{rollout_id}",
            details={"reason": control.reason},
        )
    )
    await session.commit()
    session.expire_all()
    return await _detail(session, rollout_id)


async def _live(session: SessionDep) -> Rollout | None:
    result: Rollout | None = await session.scalar(select(Rollout).where(Rollout.live.is_(True)))
    return result


def _already_running(live: Rollout | None) -> ApiError:
    if live is None:
        return ApiError(409, "conflict", "another rollout is starting")
    return ApiError(
        409,
        "conflict",
        f"rollout {live.id} ({live.tag}) is {live.status}: cancel it or wait for it to end",
        {"rollout_id": str(live.id)},
    )


async def _close_orphaned(session: SessionDep, temporal: TemporalDep) -> None:
    """A live rollout whose workflow ended outside it (terminated in the Temporal UI) is
    marked failed, so it does not block the next one; a running one is a conflict."""
    live = await _live(session)
    if live is None:
        return
    handle = temporal.get_workflow_handle(rollout_workflow_id(str(live.id)))
    try:
        status = (await handle.describe()).status
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        status = None
    if status == WorkflowExecutionStatus.RUNNING:
        raise _already_running(live)
    live.status = "failed"
    live.phase = "done"
    live.live = None
    live.finished_at = datetime.now(UTC)
    live.error = f"its workflow ended outside the rollout ({status.name if status else 'gone'})"
    await session.commit()


def _view(r: Rollout) -> RolloutView:
    return RolloutView(
        rollout_id=str(r.id),
        tag=r.tag,
        parallelism=r.parallelism,
        canary=r.canary,
        status=r.status,
        phase=r.phase,
        error=r.error,
        created_at=r.created_at,
        updated_at=r.updated_at,
        finished_at=r.finished_at,
    )


async def _detail(session: SessionDep, rollout_id: uuid.UUID) -> RolloutDetail:
    rollout = await session.get(Rollout, rollout_id, populate_existing=True)
    if rollout is None:
        raise not_found("rollout")
    counts = {s: 0 for s in ROLLOUT_TENANT_STATUSES}
    rows = await session.execute(
        select(RolloutTenant.status, func.count())
        .where(RolloutTenant.rollout_id == rollout_id)
        .group_by(RolloutTenant.status)
    )
    for status, count in rows.all():
        counts[status] = count
    counts["total"] = sum(counts.values())
    tenants = await session.scalars(
        select(RolloutTenant)
        .where(RolloutTenant.rollout_id == rollout_id)
        .order_by(RolloutTenant.subdomain)
        .limit(TENANTS_SHOWN)
    )
    return RolloutDetail(
        **_view(rollout).model_dump(),
        counts=counts,
        tenants=[
            RolloutTenantView(
                tenant_id=str(t.tenant_id),
                subdomain=t.subdomain,
                status=t.status,
                from_version=t.from_version,
                to_version=t.to_version,
                reason=t.reason,
                updated_at=t.updated_at,
            )
            for t in tenants.all()
        ],
    )
