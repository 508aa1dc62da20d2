"""Pod hosts' agents and the edge agent: registration, heartbeats, pod activity.

No shared secret: a host registers once with a single-use join token an admin minted
(`POST /v1/admin/hosts/join-tokens`) and gets a credential of its own, the only thing it
may act as from then on. So a host heartbeats only for itself and reports activity only
for pods placed on it (403 otherwise); the edge agent's token may only report traffic.

A host's SSH host key is recorded when it first registers and pinned from then on: a
registration or heartbeat presenting another key is refused (409), and every heartbeat
must present it. A heartbeat listing a pod upstream (`address:port` of a published pod
port, what the edge routes to) that is not on the host's registered address is refused
(403) and logged: a host must not steer traffic to another machine. A host whose
heartbeats stop for `host_heartbeat_timeout` is marked offline and gets no new pods until
it reports again; a pending, cordoned, draining or drained host gets none either.

Each running pod that was active gets a `keepalive` with the report's source, so its idle
timer starts again and `GET /v1/pods/{id}` says what kept it running.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.deps import CurrentHost, HostOrEdge, JoinTokenHash, SessionDep, TemporalDep, unauthorized
from api.errors import ApiError, not_found
from api.responses import BODY, errors
from api.schemas.hosts import (
    HostHeartbeat,
    HostRegister,
    HostRegistered,
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
from tenantry.crypto import hash_secret, new_token
from workflows.pod import PodWorkflow

router = APIRouter(prefix="/v1/hosts", tags=["hosts"], responses=errors(401))
log = logging.getLogger("tenantry.api.hosts")

CREDENTIAL_PREFIX = "tnth_"  # recognisable in a leaked file; never logged
EDGE_SOURCE = "proxy"


def _record(host: Host, report: HostUsage) -> None:
    usage = {field: getattr(report, field) for field in repo.USAGE_FIELDS}
    repo.record_report(host, usage, report.metrics)


def _foreign_upstreams(host: Host, upstreams: list[str]) -> list[str]:
    """Upstreams whose address is not the host's registered one (IPv6 in brackets)."""
    foreign = []
    for upstream in upstreams:
        address, _, port = upstream.rpartition(":")
        if address.strip("[]") != host.address or not port.isdigit():
            foreign.append(upstream)
    return foreign


@router.post("/register", response_model=HostRegistered, responses=errors(*BODY, 409))
async def register_host(
    *, body: HostRegister, token_hash: JoinTokenHash, session: SessionDep
) -> HostRegistered:
    """Spends a join token: the host (new, or known with the same key) gets a new credential.

    A new host is `pending` unless the token was minted approved; a known host keeps its
    state. A failed registration leaves the token unspent.
    """
    token = await repo.usable_join_token_for_update(session, token_hash)
    if token is None:
        raise unauthorized("invalid, expired or already used join token")
    host = await repo.host_by_name_for_update(session, body.name)
    if host is None:
        host = repo.new_host(
            session,
            name=body.name,
            address=body.address,
            ssh_port=body.ssh_port,
            ssh_host_key=body.ssh_host_key,
            state="approved" if token.approved else "pending",
        )
    elif host.ssh_host_key != body.ssh_host_key:
        raise ApiError(
            409, "host_key_mismatch", f"host {body.name} is registered with another host key"
        )
    else:
        host.address, host.ssh_port = body.address, body.ssh_port
        if token.approved and host.state == "pending":
            host.state = "approved"
    credential = CREDENTIAL_PREFIX + new_token(32)
    host.credential_hash = hash_secret(credential)
    _record(host, body)
    await session.flush()
    token.used_at, token.host_id = datetime.now(UTC), host.id
    await session.commit()
    await session.refresh(host)
    log.info("host %s (%s) registered, state %s", host.name, host.id, host.state)
    return HostRegistered(**host_view(host).model_dump(), credential=credential)


@router.post(
    "/{host_id}/heartbeat", response_model=HostView, responses=errors(*BODY, 403, 404, 409)
)
async def heartbeat(
    *, host_id: uuid.UUID, body: HostHeartbeat, caller: CurrentHost, session: SessionDep
) -> HostView:
    """Capacity and usage from the host itself; keeps it available for new pods."""
    if caller.id != host_id:
        raise ApiError(403, "forbidden", "a host may heartbeat only for itself")
    host = await repo.host_for_update(session, host_id)
    if host is None:
        raise not_found("host")
    if body.ssh_host_key != host.ssh_host_key:
        raise ApiError(409, "host_key_mismatch", "the host key differs from the pinned one")
    foreign = _foreign_upstreams(host, body.upstreams)
    if foreign:
        log.warning(
            "host %s (%s at %s) reported upstreams off its address, refused: %s",
            host.name,
            host.id,
            host.address,
            foreign[:10],
        )
        raise ApiError(
            403,
            "upstream_not_host_address",
            f"upstreams must be on {host.address}: {', '.join(foreign[:10])}",
        )
    _record(host, body)
    await session.commit()
    await session.refresh(host)
    return host_view(host)


@router.post("/activity", response_model=PodActivityResult, responses=errors(*BODY, 403))
async def report_pod_activity(
    *, body: PodActivityReport, caller: HostOrEdge, session: SessionDep, temporal: TemporalDep
) -> PodActivityResult:
    """Activity seen by an agent: each running pod in the report is kept alive.

    A host may report only pods placed on it; the edge only traffic (source `proxy`).
    """
    wanted = list(dict.fromkeys(body.pods))
    if caller is None and body.source != EDGE_SOURCE:
        raise ApiError(403, "forbidden", f"the edge token reports only source {EDGE_SOURCE}")
    if caller is not None:
        elsewhere = await repo.pod_ids_elsewhere(session, caller.id, wanted)
        if elsewhere:
            log.warning(
                "host %s reported activity for pods not placed on it: %s",
                caller.name,
                [str(p) for p in elsewhere[:10]],
            )
            raise ApiError(403, "forbidden", f"pods not on host {caller.name}: {len(elsewhere)}")
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
