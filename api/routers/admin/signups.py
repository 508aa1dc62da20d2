"""Signups (admin): the list with each one's reset point, and approving or rejecting one
that waits for approval (the signup's workflow decides; a decision that does not fit
its state is 409)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import AdminDep, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError, not_found
from api.pagination import Page, PageDep
from api.responses import BODY, errors
from api.schemas.signups import AdminSignup, Decision, SignupView, admin_signup
from db.repo import signups as repo
from db.repo.audit import audit
from tenantry.contracts.common import ErrorType, signup_workflow_id
from tenantry.contracts.signup import ApprovalDecision, SignupStatus
from workflows.signup import SignupWorkflow

router = APIRouter(
    prefix="/v1/admin/signups", tags=["admin"], dependencies=[AdminDep], responses=errors(401)
)


@router.get("", response_model=Page[AdminSignup], responses=errors(404, 422))
async def list_signups(
    *,
    session: SessionDep,
    settings: SettingsDep,
    page: PageDep,
    status: Annotated[SignupStatus | None, Query()] = None,
) -> Page[AdminSignup]:
    """Signups, newest first, of one status when given."""
    wanted = status.value if status is not None else None
    signups, more = await page.fetch(
        repo.recent_signups(session, wanted, after=page.starting_after, limit=page.limit)
    )
    reset_points = await repo.reset_points(session, [s.id for s in signups])
    views = [admin_signup(s, settings.base_domain, reset_points.get(s.id)) for s in signups]
    return page.page(views, more)


@router.post("/{signup_id}/approve", response_model=SignupView, responses=errors(*BODY, 404, 409))
async def approve_signup(
    *,
    signup_id: uuid.UUID,
    session: SessionDep,
    temporal: TemporalDep,
    body: Decision | None = None,
) -> SignupView:
    return await _decide(signup_id, True, body, session, temporal)


@router.post("/{signup_id}/reject", response_model=SignupView, responses=errors(*BODY, 404, 409))
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
    signup = await repo.get_signup(session, signup_id)
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
    audit(
        session,
        actor="admin",
        action="signup.approve" if approved else "signup.reject",
        target=f"signup:{signup_id}",
        details={"reason": decision.reason},
    )
    await session.commit()
    return SignupView(
        signup_id=state.signup_id,
        status=state.status.value,
        step=state.stage.value,
        tenant_id=state.tenant_id,
        error=state.error,
    )
