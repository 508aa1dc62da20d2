"""Fleet rollouts (admin): start one, follow it, pause, resume or cancel it.

A rollout is a `RolloutWorkflow` (`rollout-{id}`); the database keeps its status and what
it did to every tenant, so `GET` answers even while the worker is down. One rollout runs
at a time: starting another gets 409, as does a pause, resume or cancel that does not
fit the rollout's status.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from api.deps import AdminDep, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError, not_found
from api.pagination import Page, PageDep
from api.responses import BODY, errors
from api.schemas.rollouts import (
    RolloutCreate,
    RolloutDetail,
    RolloutOperation,
    RolloutView,
    rollout_tenant_view,
    rollout_view,
)
from db.models import Rollout
from db.repo import rollouts as repo
from db.repo.audit import audit
from tenantry.contracts.common import SA_STAGE, ErrorType, rollout_workflow_id
from tenantry.contracts.rollout import (
    RolloutControl,
    RolloutInput,
    RolloutState,
    RolloutStatus,
    valid_image_tag,
)
from workflows.rollout import RolloutWorkflow

CONTROL_ERRORS = errors(*BODY, 404, 409, 502)

router = APIRouter(
    prefix="/v1/admin/rollouts", tags=["admin"], dependencies=[AdminDep], responses=errors(401)
)

ControlUpdate = UpdateMethodMultiParam[[RolloutWorkflow, RolloutControl], RolloutState]


@router.post("", status_code=202, response_model=RolloutDetail, responses=errors(*BODY, 409))
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
    try:
        rollout = await repo.add_rollout(
            session, tag=body.tag, parallelism=body.parallelism, canary=body.canary
        )
    except repo.RolloutAlreadyLive as exc:
        raise _already_running(exc.live) from exc
    rollout_id = str(rollout.id)
    audit(
        session,
        actor="admin",
        action="rollout.start",
        target=f"rollout:{rollout_id}",
        details={"tag": body.tag, "parallelism": body.parallelism, "canary": body.canary},
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


@router.get("", response_model=Page[RolloutView], responses=errors(404, 422))
async def list_rollouts(*, session: SessionDep, page: PageDep) -> Page[RolloutView]:
    """Rollouts, newest first."""
    rollouts, more = await page.fetch(
        repo.recent_rollouts(session, after=page.starting_after, limit=page.limit)
    )
    return page.page([rollout_view(r) for r in rollouts], more)


@router.get("/{rollout_id}", response_model=RolloutDetail, responses=errors(404, 422))
async def get_rollout(*, rollout_id: uuid.UUID, session: SessionDep) -> RolloutDetail:
    """Status, counts by tenant status, and what the rollout did to each tenant."""
    return await _detail(session, rollout_id)


@router.post("/{rollout_id}/pause", response_model=RolloutDetail, responses=CONTROL_ERRORS)
async def pause_rollout(
    *,
    rollout_id: uuid.UUID,
    session: SessionDep,
    temporal: TemporalDep,
    body: RolloutOperation | None = None,
) -> RolloutDetail:
    """No new tenant starts; tenants in flight finish."""
    return await _control(rollout_id, RolloutWorkflow.pause, "pause", body, session, temporal)


@router.post("/{rollout_id}/resume", response_model=RolloutDetail, responses=CONTROL_ERRORS)
async def resume_rollout(
    *,
    rollout_id: uuid.UUID,
    session: SessionDep,
    temporal: TemporalDep,
    body: RolloutOperation | None = None,
) -> RolloutDetail:
    """A paused rollout goes on where it stopped."""
    return await _control(rollout_id, RolloutWorkflow.resume, "resume", body, session, temporal)


@router.post("/{rollout_id}/cancel", response_model=RolloutDetail, responses=CONTROL_ERRORS)
async def cancel_rollout(
    *,
    rollout_id: uuid.UUID,
    session: SessionDep,
    temporal: TemporalDep,
    body: RolloutOperation | None = None,
) -> RolloutDetail:
    """Tenants in flight finish, no other starts; updated tenants keep the new tag."""
    return await _control(rollout_id, RolloutWorkflow.cancel, "cancel", body, session, temporal)


async def _control(
    rollout_id: uuid.UUID,
    update: ControlUpdate,
    operation: str,
    body: RolloutOperation | None,
    session: AsyncSession,
    temporal: Client,
) -> RolloutDetail:
    rollout = await repo.get_rollout(session, rollout_id)
    if rollout is None:
        raise not_found("rollout")
    handle = temporal.get_workflow_handle(rollout_workflow_id(str(rollout_id)))
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
    audit(
        session,
        actor="admin",
        action=f"rollout.{operation}",
        target=f"rollout:{rollout_id}",
        details={"reason": control.reason},
    )
    await session.commit()
    session.expire_all()
    return await _detail(session, rollout_id)


def _already_running(live: Rollout | None) -> ApiError:
    if live is None:
        return ApiError(409, "conflict", "another rollout is starting")
    return ApiError(
        409,
        "conflict",
        f"rollout {live.id} ({live.tag}) is {live.status}: cancel it or wait for it to end",
        {"rollout_id": str(live.id)},
    )


async def _close_orphaned(session: AsyncSession, temporal: Client) -> None:
    """A live rollout whose workflow ended outside it (terminated in the Temporal UI) is
    marked failed, so it does not block the next one; a running one is a conflict."""
    live = await repo.live_rollout(session)
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
    repo.mark_failed(
        live, f"its workflow ended outside the rollout ({status.name if status else 'gone'})"
    )
    await session.commit()


async def _detail(session: AsyncSession, rollout_id: uuid.UUID) -> RolloutDetail:
    rollout = await repo.get_rollout(session, rollout_id, fresh=True)
    if rollout is None:
        raise not_found("rollout")
    counts = await repo.tenant_counts(session, rollout_id)
    tenants = await repo.rollout_tenants(session, rollout_id)
    return RolloutDetail(
        **rollout_view(rollout).model_dump(),
        counts=counts,
        tenants=[rollout_tenant_view(t) for t in tenants],
    )
