"""Public signup endpoints: start a signup, follow it, and the Checkout landing pages."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from api.deps import ClientAddressDep, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError, not_found
from api.responses import BODY, errors
from api.schemas.signups import SignupCreate, SignupCreated, SignupView, signup_view
from api.signup_tokens import status_token, status_token_hash
from db.repo import signups as signup_repo
from db.repo.tenants import subdomain_taken
from tenantry.contracts.common import SA_SUBDOMAIN, ErrorType, signup_workflow_id
from tenantry.contracts.signup import CheckoutRequest, SignupInput, SignupStatus
from tenantry.crypto import verify_secret
from workflows.signup import SignupWorkflow

router = APIRouter(prefix="/v1/signups", tags=["signups"])
log = logging.getLogger(__name__)


@router.post(
    "",
    status_code=202,
    response_model=SignupCreated,
    responses=errors(*BODY, 409, 429, 502, 503),
)
async def create_signup(
    *,
    body: SignupCreate,
    request: Request,
    settings: SettingsDep,
    temporal: TemporalDep,
    session: SessionDep,
    client: ClientAddressDep,
) -> SignupCreated:
    """Starts a signup (or joins the one in progress) and returns its Checkout URL."""
    request.app.state.signup_limiter.check(client)
    if await subdomain_taken(session, body.subdomain):
        raise _taken(body.subdomain)
    # The wait below for the Checkout URL takes seconds under load: holding a pooled
    # connection through it lets a burst of signups exhaust the pool (every other route
    # then waits for a connection, and fails after the pool timeout).
    await session.close()
    signup_id = str(uuid.uuid4())
    start = WithStartWorkflowOperation(
        SignupWorkflow.run,
        SignupInput(
            signup_id=signup_id,
            subdomain=body.subdomain,
            email=str(body.email),
            tier=body.tier.value,
            status_token_hash=status_token_hash(settings, signup_id),
            base_domain=settings.base_domain,
            admin_email=settings.admin_email,
            approval_mode=settings.approval_mode,
            checkout_expiry_seconds=settings.checkout_expiry.total_seconds(),
            health_budget_seconds=settings.health_gate_budget.total_seconds(),
            step_timeout_seconds=settings.step_timeout.total_seconds(),
            cancel_subscription_on_failure=settings.failed_signup_subscription == "cancel",
            payment_grace_seconds=settings.payment_grace.total_seconds(),
            tenant_history_limit=settings.tenant_history_limit,
            late_payment=settings.late_payment,
            pool_location=settings.hetzner_location
            if settings.pool_size(body.tier.value, settings.hetzner_location) > 0
            else None,
        ),
        id=signup_workflow_id(body.subdomain),
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(SA_SUBDOMAIN, body.subdomain)]
        ),
    )
    try:
        accepted = await asyncio.wait_for(
            temporal.execute_update_with_start_workflow(
                SignupWorkflow.begin_checkout,
                CheckoutRequest(signup_id=signup_id, email=str(body.email), tier=body.tier.value),
                start_workflow_operation=start,
            ),
            settings.signup_checkout_wait.total_seconds(),
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == ErrorType.CONFLICT:
            raise _taken(body.subdomain) from exc
        log.warning("signup %s: checkout failed: %s", body.subdomain, cause)  # logs only
        raise ApiError(502, "checkout_failed", "could not start checkout; try again later") from exc
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError, RPCError) as exc:
        # The wait's cancellation surfaces as the client's own update-timeout error.
        raise ApiError(
            503,
            "checkout_pending",
            "checkout is still being prepared; repeat the same request to join it",
            headers={"Retry-After": "5"},
        ) from exc
    if accepted.status == SignupStatus.FAILED:
        raise ApiError(502, "checkout_failed", "could not start checkout; try again later")
    return SignupCreated(
        signup_id=accepted.signup_id,
        status=accepted.status,
        checkout_url=accepted.checkout_url,
        status_token=status_token(settings, accepted.signup_id),
    )


@router.get("/{signup_id}", response_model=SignupView, responses=errors(404, 422))
async def get_signup(
    *,
    signup_id: uuid.UUID,
    settings: SettingsDep,
    session: SessionDep,
    status_token: Annotated[str | None, Query()] = None,
    x_status_token: Annotated[str | None, Header()] = None,
) -> SignupView:
    """The signup's progress; needs the `status_token` returned when it was created."""
    token = status_token or x_status_token
    signup = await signup_repo.get_signup(session, signup_id)
    if signup is None or not token or not verify_secret(token, signup.status_token_hash):
        raise not_found("signup")
    return signup_view(signup, settings.base_domain)


@router.get("/{signup_id}/paid", include_in_schema=False)
async def checkout_returned(signup_id: uuid.UUID) -> dict[str, Any]:
    """Where Checkout sends the customer after paying: provisioning starts from the webhook."""
    return {
        "signup_id": str(signup_id),
        "message": "Payment received: your instance is on its way.",
    }


@router.get("/{signup_id}/cancelled", include_in_schema=False)
async def checkout_cancelled(signup_id: uuid.UUID) -> dict[str, Any]:
    return {"signup_id": str(signup_id), "message": "Checkout was cancelled; nothing was charged."}


def _taken(subdomain: str) -> ApiError:
    return ApiError(
        409, "subdomain_taken", f"subdomain '{subdomain}' is taken", {"subdomain": subdomain}
    )
