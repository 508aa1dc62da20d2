"""Pod hosts' agents (host bootstrap token): registration, heartbeats, pod activity.

A host's SSH host key is recorded when it first registers and pinned from then on: a
registration or heartbeat presenting another key is refused (409), because it may be
an impostor. A host whose heartbeats stop for `host_heartbeat_timeout` is marked
offline and gets no new pods until it reports again (see `GET /v1/admin/hosts`).

Agents at the edge (proxy traffic) and on pod hosts (SSH sessions) report pod activity
here; each running pod that was active gets a `keepalive` with that source, so its idle
timer starts again and `GET /v1/pods/{id}` says what kept it running.
"""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.deps import HostDep, SessionDep, TemporalDep
from api.errors import ApiError, not_found
from api.responses import BODY, errors
from api.schemas.hosts import (
    HostHeartbeat,
    HostRegister,
    HostUsage,
    HostView,
    PodActivityReport,
    PodActivityResult,
    host_view,
)
from db.models import Host
from db.repo import hosts as repo
from db.repo.pods import running_pod_ids
from tenantry.contracts.common import pod_workflow_id
from tenantry.contracts.pod import PodRequest
from workflows.pod import PodWorkflow

router = APIRouter(
    prefix="/v1/hosts", tags=["hosts"], dependencies=[HostDep], responses=errors(401)
)


def _record(host: Host, report: HostUsage) -> None:
    usage = {field: getattr(report, field) for field in repo.USAGE_FIELDS}
    repo.record_report(host, usage, report.metrics)


@router.post("/register", response_model=HostView, responses=errors(*BODY, 409))
async def register_host(*, body: HostRegister, session: SessionDep) -> HostView:
    """Registers a host (or re-registers it with the same key); its key is pinned."""
    host = await repo.host_by_name_for_update(session, body.name)
    if host is None:
        host = repo.new_host(
            session,
            name=body.name,
            address=body.address,
            ssh_port=body.ssh_port,
            ssh_host_key=body.ssh_host_key,
        )
    elif host.ssh_host_key != body.ssh_host_key:
        raise ApiError(
            409, "host_key_mismatch", f"host {body.name} is registered with another host key"
        )
    else:
        host.address, host.ssh_port = body.address, body.ssh_port
    _record(host, body)
    await session.commit()
    await session.refresh(host)
    return host_view(host)


@router.post("/{host_id}/heartbeat", response_model=HostView, responses=errors(*BODY, 404, 409))
async def heartbeat(*, host_id: uuid.UUID, body: HostHeartbeat, session: SessionDep) -> HostView:
    """Capacity and usage; keeps the host available for new pods."""
    host = await repo.host_for_update(session, host_id)
    if host is None:
        raise not_found("host")
    if body.ssh_host_key is not None and body.ssh_host_key != host.ssh_host_key:
        raise ApiError(409, "host_key_mismatch", "the host key differs from the pinned one")
    _record(host, body)
    await session.commit()
    await session.refresh(host)
    return host_view(host)


@router.post("/activity", response_model=PodActivityResult, responses=errors(*BODY))
async def report_pod_activity(
    *, body: PodActivityReport, session: SessionDep, temporal: TemporalDep
) -> PodActivityResult:
    """Activity seen by an agent: each running pod in the report is kept alive."""
    wanted = list(dict.fromkeys(body.pods))
    running = await running_pod_ids(session, wanted)

    async def keepalive(pod_id: uuid.UUID) -> bool:
        handle = temporal.get_workflow_handle(pod_workflow_id(str(pod_id)))
        try:
            await handle.execute_update(PodWorkflow.keepalive, PodRequest(source=body.source))
        except (WorkflowUpdateFailedError, RPCError):
            return False  # it stopped running meanwhile (409 from the validator) or is gone
        return True

    alive = [p for p in wanted if p in running]
    results = await asyncio.gather(*(keepalive(p) for p in alive))
    kept = {str(p) for p, ok in zip(alive, results, strict=True) if ok}
    return PodActivityResult(
        kept_alive=[str(p) for p in wanted if str(p) in kept],
        ignored=[str(p) for p in wanted if str(p) not in kept],
    )
