"""Pod hosts: registration and heartbeats (host bootstrap token), the admin list.

A host's SSH host key is recorded when it first registers and pinned from then on: a
registration or heartbeat presenting another key is refused (409), because it may be
an impostor. A host whose heartbeats stop for `host_heartbeat_timeout` is marked
offline and gets no new pods until it reports again.

Agents at the edge (proxy traffic) and on pod hosts (SSH sessions) report pod activity
here; each running pod that was active gets a `keepalive` with that source, so its idle
timer starts again and `GET /v1/pods/{id}` says what kept it running.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncssh
from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from activities.pods.records import mark_stale_hosts
from api.deps import AdminDep, HostDep, SessionDep, SettingsDep, TemporalDep
from api.errors import ApiError, not_found
from db.models import Host, Pod
from tenantry.contracts.common import pod_workflow_id
from tenantry.contracts.pod import PodRequest, PodState, PodStatus

router = APIRouter(prefix="/v1/hosts", tags=["hosts"], dependencies=[HostDep])
admin_router = APIRouter(prefix="/v1/admin/hosts", tags=["admin"], dependencies=[AdminDep])


def _normalise_key(value: str) -> str:
    try:
        key = asyncssh.import_public_key(value.strip())
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise ValueError("not an OpenSSH public key ('ssh-ed25519 AAAA...')") from exc
    kind, data = key.export_public_key("openssh").decode().split()[:2]
    return f"{kind} {data}"


class HostUsage(BaseModel):
    capacity_cpu_millis: int | None = Field(default=None, ge=0)
    capacity_memory_mb: int | None = Field(default=None, ge=0)
    used_cpu_millis: int | None = Field(default=None, ge=0)
    used_memory_mb: int | None = Field(default=None, ge=0)
    metrics: dict[str, Any] | None = None


class HostRegister(HostUsage):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{0,62}$")
    address: str
    ssh_port: int = Field(default=22, ge=1, le=65535)
    ssh_host_key: str = Field(description="the host's SSH host public key, pinned from now on")

    @field_validator("ssh_host_key")
    @classmethod
    def _key(cls, value: str) -> str:
        return _normalise_key(value)


class HostHeartbeat(HostUsage):
    ssh_host_key: str | None = Field(default=None, description="checked against the pinned key")

    @field_validator("ssh_host_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        return None if value is None else _normalise_key(value)


class HostView(BaseModel):
    host_id: str
    name: str
    address: str
    ssh_port: int
    ssh_host_key: str
    status: str
    available: bool
    capacity_cpu_millis: int
    capacity_memory_mb: int
    used_cpu_millis: int
    used_memory_mb: int
    last_heartbeat_at: datetime | None
    metrics: dict[str, Any] = Field(
        default_factory=dict, description="what the host agent last reported beyond usage"
    )


def _apply_usage(host: Host, usage: HostUsage) -> None:
    for field in ("capacity_cpu_millis", "capacity_memory_mb", "used_cpu_millis", "used_memory_mb"):
        value = getattr(usage, field)
        if value is not None:
            setattr(host, field, value)
    if usage.metrics is not None:
        host.metrics = dict(usage.metrics)
    host.last_heartbeat_at = datetime.now(UTC)
    if host.status in (None, "registering", "offline"):
        host.status = "active"


def host_view(host: Host) -> HostView:
    return HostView(
        host_id=str(host.id),
        name=host.name,
        address=host.address,
        ssh_port=host.ssh_port,
        ssh_host_key=host.ssh_host_key,
        status=host.status,
        available=host.status == "active",
        capacity_cpu_millis=host.capacity_cpu_millis,
        capacity_memory_mb=host.capacity_memory_mb,
        used_cpu_millis=host.used_cpu_millis,
        used_memory_mb=host.used_memory_mb,
        last_heartbeat_at=host.last_heartbeat_at,
        metrics=dict(host.metrics or {}),
    )


@router.post("/register", response_model=HostView)
async def register_host(*, body: HostRegister, session: SessionDep) -> HostView:
    """Registers a host (or re-registers it with the same key); its key is pinned."""
    host = await session.scalar(select(Host).where(Host.name == body.name).with_for_update())
    if host is None:
        host = Host(
            name=body.name,
            address=body.address,
            ssh_port=body.ssh_port,
            ssh_host_key=body.ssh_host_key,
        )
        session.add(host)
    elif host.ssh_host_key != body.ssh_host_key:
        raise ApiError(
            409, "host_key_mismatch", f"host {body.name} is registered with another host key"
        )
    else:
        host.address, host.ssh_port = body.address, body.ssh_port
    _apply_usage(host, body)
    await session.commit()
    await session.refresh(host)
    return host_view(host)


@router.post("/{host_id}/heartbeat", response_model=HostView)
async def heartbeat(*, host_id: uuid.UUID, body: HostHeartbeat, session: SessionDep) -> HostView:
    """Capacity and usage; keeps the host available for new pods."""
    host = await session.get(Host, host_id, with_for_update=True)
    if host is None:
        raise not_found("host")
    if body.ssh_host_key is not None and body.ssh_host_key != host.ssh_host_key:
        raise ApiError(409, "host_key_mismatch", "the host key differs from the pinned one")
    _apply_usage(host, body)
    await session.commit()
    await session.refresh(host)
    return host_view(host)


class PodActivityReport(BaseModel):
    source: str = Field(
        pattern=r"^[a-z][a-z0-9-]{0,31}$",
        description="what saw the activity: `proxy` (edge traffic), `ssh` (a session), ...",
    )
    pods: list[uuid.UUID] = Field(max_length=1000, description="pods active since the last report")


class PodActivityResult(BaseModel):
    kept_alive: list[str] = Field(description="running pods whose idle timer started again")
    ignored: list[str] = Field(description="unknown pods, or pods that are not running")


@router.post("/activity", response_model=PodActivityResult)
async def report_pod_activity(
    *, body: PodActivityReport, session: SessionDep, temporal: TemporalDep
) -> PodActivityResult:
    """Activity seen by an agent: each running pod in the report is kept alive."""
    wanted = list(dict.fromkeys(body.pods))
    running = set(
        (
            await session.scalars(
                select(Pod.id).where(Pod.id.in_(wanted), Pod.status == PodStatus.RUNNING.value)
            )
        ).all()
    )

    async def keepalive(pod_id: uuid.UUID) -> bool:
        handle = temporal.get_workflow_handle(pod_workflow_id(str(pod_id)))
        try:
            await handle.execute_update(
                "keepalive", PodRequest(source=body.source), result_type=PodState
            )
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


@admin_router.get("", response_model=list[HostView])
async def list_hosts(*, session: SessionDep, settings: SettingsDep) -> list[HostView]:
    await mark_stale_hosts(session, settings.host_heartbeat_timeout)
    await session.commit()
    hosts = (await session.scalars(select(Host).order_by(Host.name))).all()
    return [host_view(h) for h in hosts]
