"""Pods of the calling account (API key): create, list, show, hibernate, restore,
keep alive, destroy. Another account's pod answers 404 on every route.

A running pod's `urls` are its services' public URLs at the edge
(`{service}-{pod}-{account}.{pod_base_domain}`, see `tenantry.rules.edge_names`); a pod whose
hostnames could not be DNS labels, or would be another live pod's, is refused at create.

The API validates and records; the pod's workflow (`pod-{pod_id}`) does the work.
Requests that conflict with what a pod is doing are refused by the workflow's update
validators and answered with 409.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from api.deps import CurrentAccount, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError, not_found
from api.pagination import Page, PageDep
from api.responses import BODY, errors
from api.schemas.pods import PodAccepted, PodCreate, PodView, pod_view
from db.models import Account, Pod
from db.repo import pods as repo
from db.repo.account_billing import billing_standing
from tenantry.contracts.common import (
    SA_ACCOUNT_ID,
    SA_POD_ID,
    SA_STAGE,
    PodErrorType,
    pod_workflow_id,
)
from tenantry.contracts.pod import PodInput, PodRequest, PodState, PodStatus
from tenantry.contracts.podhost import PodSpec
from tenantry.rules.billing import pod_start_refusal
from tenantry.rules.edge_names import account_handle, label_problem
from tenantry.rules.plans import PodTier
from tenantry.rules.pod_config import (
    POD_NAME,
    PodConfig,
    PodConfigError,
    image_allowed,
    parse_pod_config,
)
from tenantry.settings import ApiSettings
from workflows.pod import PodWorkflow

PodUpdate = UpdateMethodMultiParam[[PodWorkflow, PodRequest], PodState]
"""One of the pod workflow's updates (hibernate, restore, keepalive, destroy)."""

UPDATE_ERRORS = errors(404, 409, 502, 503)
"""What a pod update can answer: not the caller's pod, refused by the workflow, failed."""

router = APIRouter(prefix="/v1/pods", tags=["pods"], responses=errors(401))
log = logging.getLogger(__name__)


@router.post(
    "", status_code=202, response_model=PodAccepted, responses=errors(*BODY, 402, 409, 503)
)
async def create_pod(
    *,
    body: PodCreate,
    account: CurrentAccount,
    settings: SettingsDep,
    session: SessionDep,
    temporal: TemporalDep,
) -> PodAccepted:
    """Records the pod and starts its workflow; follow it with `GET /v1/pods/{id}`.

    Beyond the free tier, without a card or prepaid credits (or with an invoice unpaid
    past its grace period), the answer is 402."""
    try:
        config = parse_pod_config(body.config)
    except PodConfigError as exc:
        raise ApiError(422, "invalid_input", str(exc), {"fields": exc.fields}) from exc
    if not image_allowed(config.resolved_image, settings.pod_image_allowlist):
        allowed = ", ".join(settings.pod_image_allowlist)
        raise _invalid("config.image", f"image not allowed here (allowed: {allowed})")
    name = body.name or config.name
    if name is None:
        raise _invalid("name", "a pod needs a name (in the request or its config)")
    if config.name and body.name and config.name != body.name:
        raise _invalid("config.name", f"differs from the request's name {body.name!r}")
    if parse_name_problem := _name_problem(name):
        raise _invalid("name", parse_name_problem)
    tier = body.tier or config.tier or PodTier.SMALL
    if config.tier and body.tier and config.tier != body.tier:
        raise _invalid("config.tier", f"differs from the request's tier {body.tier.value!r}")
    services = [svc.name for svc in config.services]
    if problem := label_problem(services, name):
        raise _invalid("name", problem)
    if clash := await repo.hostname_clash(session, account.id, services, name):
        other, label = clash
        raise ApiError(
            409,
            "conflict",
            f"hostname {label}-{account_handle(account.id)} is taken by pod {other.name!r}; "
            "choose another pod name",
            {"fields": [{"field": "name", "message": "hostname taken"}]},
        )

    await require_billing_standing(session, account.billing_account_id)

    pod_id = uuid.uuid4()
    pod = repo.add_pod(
        session,
        id=pod_id,
        account_id=account.id,
        name=name,
        tier=tier.value,
        status=PodStatus.CREATING.value,
        config={"pod": config.public()},
        secrets=dict(config.secrets) if config.secrets else None,
        idle_timeout_seconds=config.idle_timeout,
    )
    try:
        await session.commit()
    except IntegrityError as exc:
        raise ApiError(409, "conflict", f"a pod named {name!r} exists", {"name": name}) from exc

    try:
        await _start_workflow(temporal, settings, pod)
    except RPCError as exc:
        # Nothing is half-done: the pod that never started is gone again.
        await session.delete(pod)
        await session.commit()
        raise ApiError(503, "unavailable", "cannot start the pod now; try again") from exc
    return PodAccepted(pod_id=str(pod_id), status=PodStatus.CREATING.value)


@router.get("", response_model=Page[PodView], responses=errors(404, 422))
async def list_pods(
    *, account: CurrentAccount, session: SessionDep, settings: SettingsDep, page: PageDep
) -> Page[PodView]:
    """The account's pods that are not destroyed, newest first."""
    rows, more = await page.fetch(
        repo.account_pod_rows(session, account.id, after=page.starting_after, limit=page.limit)
    )
    return page.page([pod_view(settings, *row) for row in rows], more)


@router.get("/{pod_id}", response_model=PodView, responses=errors(404))
async def get_pod(
    *, pod_id: str, account: CurrentAccount, session: SessionDep, settings: SettingsDep
) -> PodView:
    row = await repo.account_pod_row(session, account.id, _pod_key(pod_id))
    if row is None:
        raise not_found("pod")
    return pod_view(settings, *row)


@router.post(
    "/{pod_id}/hibernate", status_code=202, response_model=PodAccepted, responses=UPDATE_ERRORS
)
async def hibernate_pod(
    *, pod_id: str, account: CurrentAccount, session: SessionDep, temporal: TemporalDep
) -> PodAccepted:
    """Snapshots the pod to S3 and frees its host; it costs nothing while hibernated."""
    return await _update(temporal, await _own_pod(session, account, pod_id), PodWorkflow.hibernate)


@router.post(
    "/{pod_id}/restore",
    status_code=202,
    response_model=PodAccepted,
    responses={**UPDATE_ERRORS, **errors(402)},
)
async def restore_pod(
    *, pod_id: str, account: CurrentAccount, session: SessionDep, temporal: TemporalDep
) -> PodAccepted:
    """Brings a hibernated pod back, on any available host, from its newest snapshot
    (402 when the account may not start pods, as for a create)."""
    pod = await _own_pod(session, account, pod_id, close=False)
    await require_billing_standing(session, account.billing_account_id)
    await session.close()
    return await _update(temporal, pod, PodWorkflow.restore)


@router.post(
    "/{pod_id}/keepalive", status_code=202, response_model=PodAccepted, responses=UPDATE_ERRORS
)
async def keepalive_pod(
    *, pod_id: str, account: CurrentAccount, session: SessionDep, temporal: TemporalDep
) -> PodAccepted:
    """Counts as activity: a running pod's idle timer starts again."""
    return await _update(temporal, await _own_pod(session, account, pod_id), PodWorkflow.keepalive)


@router.delete("/{pod_id}", status_code=202, response_model=PodAccepted, responses=UPDATE_ERRORS)
async def destroy_pod(
    *,
    pod_id: str,
    account: CurrentAccount,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> PodAccepted:
    """Removes the pod's container, snapshots and secrets; a destroyed pod stays destroyed."""
    pod = await _own_pod(session, account, pod_id)
    if pod.status == PodStatus.DESTROYED.value:
        return PodAccepted(pod_id=str(pod.id), status=pod.status)
    if pod.status == PodStatus.CREATING.value:
        # An API that died between committing the row and starting the workflow left a
        # pod without one: start it now (it joins the workflow when there is one).
        try:
            await _start_workflow(temporal, settings, pod)
        except RPCError as exc:
            raise ApiError(503, "unavailable", "the pod cannot be reached now; try again") from exc
    return await _update(temporal, pod, PodWorkflow.destroy)


# -- helpers ------------------------------------------------------------------------------
async def require_billing_standing(session: AsyncSession, billed_account_id: uuid.UUID) -> None:
    """402 when the paying account may not start a pod (`tenantry.rules.billing`)."""
    standing = await billing_standing(session, billed_account_id, datetime.now(UTC))
    if refusal := pod_start_refusal(standing):
        raise ApiError(
            402,
            "payment_required",
            refusal,
            {
                "free_hours_used": standing.free_seconds_used // 3600,
                "has_payment_method": standing.has_payment_method,
                "invoice_overdue": standing.invoice_overdue,
            },
        )


def _invalid(field: str, message: str) -> ApiError:
    details = {"fields": [{"field": field, "message": message}]}
    return ApiError(422, "invalid_input", f"{field}: {message}", details)


def _name_problem(name: str) -> str | None:
    return None if POD_NAME.fullmatch(name) else "1-32 lowercase letters, digits and hyphens"


def _pod_key(pod_id: str) -> uuid.UUID:
    """The pod id as a UUID; a malformed one is a pod that does not exist (404)."""
    try:
        return uuid.UUID(pod_id)
    except ValueError:
        raise not_found("pod") from None


async def _own_pod(
    session: AsyncSession, account: Account, pod_id: str, *, close: bool = True
) -> Pod:
    """The caller's pod; anything else (another account's, malformed ids) is 404.

    The session is closed once the pod is read: what follows waits on Temporal, and a
    pooled connection held through that wait is one a burst of requests runs out of.
    """
    pod = await repo.get_pod(session, _pod_key(pod_id))
    if close:
        await session.close()
    if pod is None or pod.account_id != account.id:
        raise not_found("pod")
    return pod


async def _start_workflow(temporal: Client, settings: ApiSettings, pod: Pod) -> None:
    """Starts the pod's workflow from its row, or joins the one running (same id).

    Built from the row alone (its config is stored with secret names only; the workflow
    reads the values from the row), so a repair starts exactly what create would have.
    """
    stored = dict(pod.config["pod"])
    config = PodConfig.model_validate({**stored, "secrets": {}})
    spec = PodSpec(
        pod_id=str(pod.id),
        account_id=str(pod.account_id),
        tier=PodTier(pod.tier),
        image=config.resolved_image,
        services=list(config.services),
        env=dict(config.env),
    )
    await temporal.start_workflow(
        PodWorkflow.run,
        PodInput(
            pod_id=str(pod.id),
            account_id=str(pod.account_id),
            name=pod.name,
            spec=spec,
            bucket=settings.s3_bucket,
            snapshots_to_keep=settings.pod_snapshots_to_keep,
            idle_timeout_seconds=pod.idle_timeout_seconds,
            heartbeat_seconds=settings.pod_step_heartbeat.total_seconds(),
            workspace_check_seconds=settings.pod_workspace_check.total_seconds(),
        ),
        id=pod_workflow_id(str(pod.id)),
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(SA_POD_ID, str(pod.id)),
                SearchAttributePair(SA_ACCOUNT_ID, str(pod.account_id)),
                SearchAttributePair(SA_STAGE, PodStatus.CREATING.value),
            ]
        ),
    )


async def _update(temporal: Client, pod: Pod, update: PodUpdate) -> PodAccepted:
    """Asks the pod's workflow for `update` (source `api`); its validator's refusal is 409."""
    if pod.status == PodStatus.DESTROYED.value:
        raise ApiError(409, "conflict", "the pod is destroyed")
    handle = temporal.get_workflow_handle(pod_workflow_id(str(pod.id)))
    name = getattr(update, "__name__", "update")
    try:
        state = await handle.execute_update(update, PodRequest(source="api"))
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == PodErrorType.CONFLICT:
            raise ApiError(409, "conflict", cause.message, {"status": pod.status}) from exc
        log.warning("pod %s could not %s: %s", pod.id, name, cause)  # detail: logs only
        raise ApiError(502, "update_failed", f"the pod could not {name}; try again") from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(409, "conflict", f"the pod is {pod.status}") from exc
        raise ApiError(503, "unavailable", "the pod cannot be reached now; try again") from exc
    return PodAccepted(pod_id=state.pod_id, status=state.status.value, pending=state.pending)
