"""Admin endpoints for signups, tenants and accounts (admin token required)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, EmailStr, Field
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import AdminDep, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError, not_found
from api.routers.fleet_health import TenantHealthView, health_view
from api.routers.signups import SignupView, signup_view
from db.models import (
    Account,
    ApiKey,
    AuditLogEntry,
    ProvisioningLogEntry,
    Signup,
    Tenant,
    TenantHealth,
)
from tenantry.contracts.common import ErrorType, signup_workflow_id
from tenantry.contracts.signup import ApprovalDecision, SignupStatus
from tenantry.crypto import generate_api_key
from workflows.signup import SignupWorkflow

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[AdminDep])


class AdminSignup(SignupView):
    subdomain: str
    email: str
    tier: str
    created_at: datetime
    reset_event_id: int | None = Field(
        default=None,
        description="where `temporal workflow reset --event-id` restarts provisioning",
    )


class Decision(BaseModel):
    reason: str | None = None


class LogEntry(BaseModel):
    action: str
    details: dict[str, Any]
    at: datetime


class TenantView(BaseModel):
    tenant_id: str
    subdomain: str
    tier: str
    status: str
    server_id: int | None
    server_ip: str | None
    dns_record: str | None
    stripe_subscription_id: str | None
    version: str | None = Field(default=None, description="the image tag its stack runs")
    created_at: datetime


class TenantDetail(TenantView):
    provisioning_log: list[LogEntry]
    health: TenantHealthView | None = Field(
        default=None, description="the health sweep's latest check"
    )


class AccountCreate(BaseModel):
    email: EmailStr
    name: str | None = None


class AccountCreated(BaseModel):
    account_id: str
    api_key: str


@router.get("/signups", response_model=list[AdminSignup])
async def list_signups(
    *,
    session: SessionDep,
    settings: SettingsDep,
    status: Annotated[SignupStatus | None, Query()] = None,
) -> list[AdminSignup]:
    query = select(Signup).order_by(Signup.created_at.desc()).limit(500)
    if status is not None:
        query = query.where(Signup.status == status.value)
    signups = (await session.scalars(query)).all()
    reset_points = await _reset_points(session, [s.id for s in signups])
    return [
        AdminSignup(
            **signup_view(s, settings.base_domain).model_dump(),
            subdomain=s.subdomain,
            email=s.email,
            tier=s.tier,
            created_at=s.created_at,
            reset_event_id=reset_points.get(s.id),
        )
        for s in signups
    ]


async def _reset_points(session: SessionDep, signup_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The latest logged reset point of each signup's provisioning (one query)."""
    if not signup_ids:
        return {}
    rows = await session.execute(
        select(ProvisioningLogEntry.signup_id, ProvisioningLogEntry.details)
        .where(
            ProvisioningLogEntry.signup_id.in_(signup_ids),
            ProvisioningLogEntry.action == "provisioning.started",
        )
        .order_by(ProvisioningLogEntry.id)
    )
    return {
        signup_id: int(details["reset_event_id"])
        for signup_id, details in rows
        if signup_id is not None and "reset_event_id" in details
    }


@router.post("/signups/{signup_id}/approve", response_model=SignupView)
async def approve_signup(
    *,
    signup_id: uuid.UUID,
    session: SessionDep,
    temporal: TemporalDep,
    body: Decision | None = None,
) -> SignupView:
    return await _decide(signup_id, True, body, session, temporal)


@router.post("/signups/{signup_id}/reject", response_model=SignupView)
async def reject_signup(
    *,
    signup_id: uuid.UUID,
    session: SessionDep,
    temporal: TemporalDep,
    body: Decision | None = None,
) -> SignupView:
    return await _decide(signup_id, False, body, session, temporal)


async def _decide(
    signup_id: uuid.UUID,
    approved: bool,
    body: Decision | None,
    session: SessionDep,
    temporal: TemporalDep,
) -> SignupView:
    signup = await session.get(Signup, signup_id)
    if signup is None:
        raise not_found("signup")
    handle = temporal.get_workflow_handle(signup_workflow_id(signup.subdomain))
    decision = ApprovalDecision(
        approved=approved, actor="admin", reason=body.reason if body else None
    )
    try:
        state = await handle.execute_update(SignupWorkflow.decide, decision)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == ErrorType.CONFLICT:
            raise ApiError(409, "conflict", str(cause.message)) from exc
        raise
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(
                409, "conflict", f"signup is {signup.status}, not awaiting approval"
            ) from exc
        raise
    session.add(
        AuditLogEntry(
            actor="admin",
            action="signup.approve" if approved else "signup.reject",
            target=f"signup:{signup_id}",
            details={"reason": decision.reason},
        )
    )
    await session.commit()
    return SignupView(
        signup_id=state.signup_id,
        status=state.status.value,
        step=state.stage.value,
        tenant_id=state.tenant_id,
        error=state.error,
    )


@router.get("/tenants", response_model=list[TenantView])
async def list_tenants(
    *, session: SessionDep, status: Annotated[str | None, Query()] = None
) -> list[TenantView]:
    query = select(Tenant).order_by(Tenant.created_at.desc()).limit(1000)
    if status:
        query = query.where(Tenant.status == status)
    return [_tenant_view(t) for t in (await session.scalars(query)).all()]


@router.get("/tenants/{tenant_id}", response_model=TenantDetail)
async def get_tenant(*, tenant_id: uuid.UUID, session: SessionDep) -> TenantDetail:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise not_found("tenant")
    log_query = (
        select(ProvisioningLogEntry)
        .where(
            (ProvisioningLogEntry.tenant_id == tenant.id)
            | (ProvisioningLogEntry.signup_id == tenant.signup_id)
        )
        .order_by(ProvisioningLogEntry.id)
    )
    entries = (await session.scalars(log_query)).all()
    health = await session.get(TenantHealth, tenant.id)
    return TenantDetail(
        **_tenant_view(tenant).model_dump(),
        provisioning_log=[LogEntry(action=e.action, details=e.details, at=e.at) for e in entries],
        health=health_view(health, tenant) if health else None,
    )


@router.post("/accounts", status_code=201, response_model=AccountCreated)
async def create_account(*, body: AccountCreate, session: SessionDep) -> AccountCreated:
    """Creates an account and its first API key; the key is shown only in this answer."""
    email = str(body.email).lower()
    if await session.scalar(select(Account.id).where(Account.email == email)):
        raise ApiError(409, "conflict", "an account with this email exists", {"email": email})
    account = Account(email=email, name=body.name)
    session.add(account)
    await session.flush()
    key = generate_api_key()
    session.add(
        ApiKey(account_id=account.id, name="default", prefix=key.prefix, key_hash=key.digest)
    )
    session.add(
        AuditLogEntry(actor="admin", action="account.create", target=f"account:{account.id}")
    )
    await session.commit()
    return AccountCreated(account_id=str(account.id), api_key=key.plaintext)


def _tenant_view(t: Tenant) -> TenantView:
    return TenantView(
        tenant_id=str(t.id),
        subdomain=t.subdomain,
        tier=t.tier,
        status=t.status,
        server_id=t.server_id,
        server_ip=t.server_ip,
        dns_record=t.dns_record,
        stripe_subscription_id=t.stripe_subscription_id,
        version=t.version,
        created_at=t.created_at,
    )
