"""Pod hosts (admin): the list, join tokens, and what each host may do.

Hosts silent for longer than `host_heartbeat_timeout` are marked offline first, so the
list says what placement would see now. A host joins with a single-use token minted here
(its plain value is answered once; only its SHA-256 is kept) and waits as `pending` until
approved, unless the token was minted approved. `cordon` stops new pods; `drain` also
hibernates every running pod on it through the pod's workflow (each restores elsewhere
when asked or woken) and the host is `drained` once none is left; `approve` puts a
cordoned or drained host back in service. `DELETE` removes an empty host and with it its
credential.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.deps import AdminDep, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError, not_found
from api.pagination import Page, PageDep
from api.responses import BODY, errors
from api.schemas.hosts import DrainResult, HostView, JoinToken, JoinTokenCreate, host_view
from db.models import Host
from db.repo import hosts as repo
from tenantry.contracts.common import pod_workflow_id
from tenantry.contracts.pod import PodRequest
from tenantry.crypto import hash_secret, new_token
from workflows.pod import PodWorkflow

router = APIRouter(
    prefix="/v1/admin/hosts", tags=["admin"], dependencies=[AdminDep], responses=errors(401)
)

JOIN_TOKEN_PREFIX = "tntj_"
DRAIN_SOURCE = "drain"


@router.get("", response_model=Page[HostView], responses=errors(404, 422))
async def list_hosts(
    *, session: SessionDep, settings: SettingsDep, page: PageDep
) -> Page[HostView]:
    """Hosts by name."""
    await repo.mark_stale_hosts(session, settings.host_heartbeat_timeout)
    for draining in await repo.draining_hosts(session):
        await repo.settle_drain(session, draining)
    await session.commit()
    hosts, more = await page.fetch(
        repo.hosts_page(session, after=page.starting_after, limit=page.limit)
    )
    return page.page([host_view(h) for h in hosts], more)


@router.post("/join-tokens", response_model=JoinToken, status_code=201, responses=errors(*BODY))
async def mint_join_token(
    *, body: JoinTokenCreate, session: SessionDep, settings: SettingsDep
) -> JoinToken:
    """A single-use token for one new host to register with (shown only now)."""
    if body.ttl > settings.host_join_token_max_ttl.total_seconds():
        raise ApiError(
            422,
            "ttl_too_long",
            f"ttl may be at most {int(settings.host_join_token_max_ttl.total_seconds())}",
        )
    token = JOIN_TOKEN_PREFIX + new_token(32)
    row = repo.new_join_token(
        session,
        token_hash=hash_secret(token),
        approved=body.approved,
        ttl=timedelta(seconds=body.ttl),
    )
    await session.commit()
    return JoinToken(token=token, approved=row.approved, expires_at=row.expires_at)


async def _host(session: AsyncSession, host_id: uuid.UUID) -> Host:
    host = await repo.host_for_update(session, host_id)
    if host is None:
        raise not_found("host")
    return host


async def _set_state(session: AsyncSession, host_id: uuid.UUID, state: str) -> HostView:
    host = await _host(session, host_id)
    host.state = state
    await session.commit()
    await session.refresh(host)
    return host_view(host)


@router.post("/{host_id:uuid}/approve", response_model=HostView, responses=errors(404, 422))
async def approve_host(*, host_id: uuid.UUID, session: SessionDep) -> HostView:
    """The host takes new pods (from pending, cordoned, draining or drained)."""
    return await _set_state(session, host_id, "approved")


@router.post("/{host_id:uuid}/cordon", response_model=HostView, responses=errors(404, 422))
async def cordon_host(*, host_id: uuid.UUID, session: SessionDep) -> HostView:
    """No new pods on the host; the pods on it keep running."""
    return await _set_state(session, host_id, "cordoned")


@router.post("/{host_id:uuid}/drain", response_model=DrainResult, responses=errors(404, 422))
async def drain_host(
    *, host_id: uuid.UUID, session: SessionDep, temporal: TemporalDep
) -> DrainResult:
    """No new pods, and every running pod on the host hibernates (its workspace is kept
    in its snapshot; a restore places it on another host). Safe to call again."""
    host = await _host(session, host_id)
    if host.state != "drained":
        host.state = "draining"
    await session.commit()
    pods = [p for p in await repo.pods_on_host(session, host_id) if p.status == "running"]
    hibernating: list[str] = []
    failed: dict[str, str] = {}
    for pod in pods:
        handle = temporal.get_workflow_handle(pod_workflow_id(str(pod.id)))
        try:
            await handle.execute_update(PodWorkflow.hibernate, PodRequest(source=DRAIN_SOURCE))
        except (WorkflowUpdateFailedError, RPCError) as exc:
            failed[str(pod.id)] = str(
                exc.cause if isinstance(exc, WorkflowUpdateFailedError) else exc
            )
        else:
            hibernating.append(str(pod.id))
    host = await _host(session, host_id)
    await repo.settle_drain(session, host)
    await session.commit()
    await session.refresh(host)
    return DrainResult(host=host_view(host), hibernating=hibernating, failed=failed)


@router.delete("/{host_id:uuid}", response_model=HostView, responses=errors(404, 409, 422))
async def remove_host(*, host_id: uuid.UUID, session: SessionDep) -> HostView:
    """Forgets an empty host (its credential stops working); refused while pods are on it."""
    host = await _host(session, host_id)
    left = await repo.pods_on_host(session, host_id)
    if left:
        raise ApiError(
            409,
            "host_not_empty",
            f"host {host.name} still holds {len(left)} pods: drain it first",
        )
    view = host_view(host)
    await repo.delete_host(session, host)
    await session.commit()
    return view
