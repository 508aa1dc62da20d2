"""Tenants (admin): list and show them, and operate on one through its `TenantWorkflow`.

An operation is an update: the answer comes when it is done (200), or after
`OPERATION_WAIT` with 202 while it goes on; `GET /v1/admin/tenants/{id}` shows its
progress. An operation that does not fit the tenant's state, or meets another one in
progress, gets 409.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from api.deps import AdminDep, SessionDep, TemporalDep
from api.errors import ApiError, not_found
from api.pagination import Page, PageDep
from api.responses import BODY, errors
from api.schemas.health import health_view
from api.schemas.tenants import (
    OperationBody,
    OperationPending,
    TenantDetail,
    TenantView,
    TierBody,
    log_entry,
    tenant_view,
)
from db.repo import tenants as repo
from tenantry.contracts.common import ErrorType, tenant_workflow_id
from tenantry.contracts.tenant import TenantOperation, TenantState, TierChange
from workflows.tenant import TenantWorkflow

# An operation answers the tenant's state (200) or, when it takes longer, 202.
OPERATION_ANSWERS: dict[int | str, dict[str, Any]] = {
    202: {"model": OperationPending, "description": "still running; follow the tenant"},
    **errors(*BODY, 404, 409, 502),
}

router = APIRouter(
    prefix="/v1/admin/tenants", tags=["admin"], dependencies=[AdminDep], responses=errors(401)
)

OPERATION_WAIT = 10.0

Op = TypeVar("Op", bound=TenantOperation)


@router.get("", response_model=Page[TenantView], responses=errors(404, 422))
async def list_tenants(
    *, session: SessionDep, page: PageDep, status: Annotated[str | None, Query()] = None
) -> Page[TenantView]:
    """Tenants, newest first, of one status when given."""
    tenants, more = await page.fetch(
        repo.recent_tenants(session, status, after=page.starting_after, limit=page.limit)
    )
    return page.page([tenant_view(t) for t in tenants], more)


@router.get("/{tenant_id}", response_model=TenantDetail, responses=errors(404, 422))
async def get_tenant(*, tenant_id: uuid.UUID, session: SessionDep) -> TenantDetail:
    tenant = await repo.get_tenant(session, tenant_id)
    if tenant is None:
        raise not_found("tenant")
    entries = await repo.provisioning_log(session, tenant)
    health = await repo.tenant_health(session, tenant.id)
    return TenantDetail(
        **tenant_view(tenant).model_dump(),
        provisioning_log=[log_entry(e) for e in entries],
        health=health_view(health, tenant) if health else None,
    )


@router.post("/{tenant_id}/suspend", response_model=TenantState, responses=OPERATION_ANSWERS)
async def suspend_tenant(
    *,
    tenant_id: uuid.UUID,
    session: SessionDep,
    temporal: TemporalDep,
    body: OperationBody | None = None,
) -> JSONResponse:
    """Stops the tenant's stack over SSH; its data stays."""
    op = TenantOperation(actor="admin", reason=body.reason if body else None)
    return await _operate(tenant_id, TenantWorkflow.suspend, op, session, temporal)


@router.post("/{tenant_id}/unsuspend", response_model=TenantState, responses=OPERATION_ANSWERS)
async def unsuspend_tenant(
    *,
    tenant_id: uuid.UUID,
    session: SessionDep,
    temporal: TemporalDep,
    body: OperationBody | None = None,
) -> JSONResponse:
    """Starts the stack again and waits for it to be healthy."""
    op = TenantOperation(actor="admin", reason=body.reason if body else None)
    return await _operate(tenant_id, TenantWorkflow.unsuspend, op, session, temporal)


@router.post("/{tenant_id}/tier", response_model=TenantState, responses=OPERATION_ANSWERS)
async def change_tier(
    *, tenant_id: uuid.UUID, body: TierBody, session: SessionDep, temporal: TemporalDep
) -> JSONResponse:
    """Resizes the server and moves the subscription to the tier's price, prorated."""
    change = TierChange(actor="admin", reason=body.reason, tier=body.tier.value)
    return await _operate(tenant_id, TenantWorkflow.change_tier, change, session, temporal)


@router.delete("/{tenant_id}", response_model=TenantState, responses=OPERATION_ANSWERS)
async def delete_tenant(
    *, tenant_id: uuid.UUID, session: SessionDep, temporal: TemporalDep
) -> JSONResponse:
    """Cancels the subscription, deletes the record and the server; keeps the log."""
    op = TenantOperation(actor="admin", reason="deleted by admin")
    return await _operate(tenant_id, TenantWorkflow.delete, op, session, temporal)


async def _operate(
    tenant_id: uuid.UUID,
    update: UpdateMethodMultiParam[[TenantWorkflow, Op], TenantState],
    arg: Op,
    session: SessionDep,
    temporal: TemporalDep,
) -> JSONResponse:
    tenant = await repo.get_tenant(session, tenant_id)
    # The operation below may be waited for: no pooled connection is held through that.
    await session.close()
    if tenant is None:
        raise not_found("tenant")
    handle = temporal.get_workflow_handle(tenant_workflow_id(str(tenant_id)))
    try:
        running = await handle.start_update(
            update, arg, wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        try:
            state = await asyncio.wait_for(asyncio.shield(running.result()), OPERATION_WAIT)
        except TimeoutError:
            return JSONResponse(
                {"tenant_id": str(tenant_id), "status": "in_progress", "operation": running.id},
                status_code=202,
            )
    except WorkflowUpdateFailedError as exc:
        raise _refusal(exc.cause) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(409, "conflict", f"tenant is {tenant.status}") from exc
        raise
    return JSONResponse(state.model_dump(mode="json"))


def _refusal(cause: BaseException | None) -> ApiError:
    if isinstance(cause, ApplicationError):
        if cause.type == ErrorType.CONFLICT:
            return ApiError(409, "conflict", cause.message)
        if cause.type == ErrorType.INVALID_INPUT:
            return ApiError(422, "invalid_input", cause.message)
        return ApiError(502, "operation_failed", cause.message)
    return ApiError(502, "operation_failed", str(cause))
