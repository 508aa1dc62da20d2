"""Pod hosts as agents report them and admins decide: registration with a join token,
heartbeats, who went silent, approval, cordon, drain and removal.

A registration and a heartbeat lock the host's row, so two reports of one host apply
one after the other; the caller compares host keys and commits. A join token is locked
and marked used in the registration's transaction, so it registers one host at most.
Tokens and credentials are looked up by their SHA-256 only.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Host, HostJoinToken, Pod
from db.repo.pagination import keyset_page

# Pods that have a container (or are about to) on their host: a host holding any is not empty.
PODS_ON_HOST = ("creating", "running", "hibernating", "restoring", "destroying")

USAGE_FIELDS = ("capacity_cpu_millis", "capacity_memory_mb", "used_cpu_millis", "used_memory_mb")


async def host_by_name_for_update(session: AsyncSession, name: str) -> Host | None:
    host: Host | None = await session.scalar(
        select(Host).where(Host.name == name).with_for_update()
    )
    return host


async def host_for_update(session: AsyncSession, host_id: uuid.UUID) -> Host | None:
    return await session.get(Host, host_id, with_for_update=True)


def new_host(
    session: AsyncSession,
    *,
    name: str,
    address: str,
    ssh_port: int,
    ssh_host_key: str,
    state: str = "pending",
) -> Host:
    """A host registering for the first time (added to the session; flushed on commit)."""
    host = Host(
        name=name, address=address, ssh_port=ssh_port, ssh_host_key=ssh_host_key, state=state
    )
    session.add(host)
    return host


def new_join_token(
    session: AsyncSession, *, token_hash: str, approved: bool, ttl: timedelta
) -> HostJoinToken:
    token = HostJoinToken(
        token_hash=token_hash, approved=approved, expires_at=datetime.now(UTC) + ttl
    )
    session.add(token)
    return token


async def usable_join_token_for_update(
    session: AsyncSession, token_hash: str
) -> HostJoinToken | None:
    """The join token with this hash if it is neither used nor expired (row locked)."""
    token: HostJoinToken | None = await session.scalar(
        select(HostJoinToken)
        .where(
            HostJoinToken.token_hash == token_hash,
            HostJoinToken.used_at.is_(None),
            HostJoinToken.expires_at > datetime.now(UTC),
        )
        .with_for_update()
    )
    return token


async def host_by_credential(session: AsyncSession, credential_hash: str) -> Host | None:
    host: Host | None = await session.scalar(
        select(Host).where(Host.credential_hash == credential_hash)
    )
    return host


async def pods_on_host(session: AsyncSession, host_id: uuid.UUID) -> list[Pod]:
    """Pods with a container on the host (or on their way there or away)."""
    return list(
        (
            await session.scalars(
                select(Pod)
                .where(Pod.host_id == host_id, Pod.status.in_(PODS_ON_HOST))
                .order_by(Pod.created_at)
            )
        ).all()
    )


async def pod_ids_elsewhere(
    session: AsyncSession, host_id: uuid.UUID, pod_ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    """Which of `pod_ids` are not placed on this host (unknown pods included)."""
    here = set(
        (
            await session.scalars(select(Pod.id).where(Pod.id.in_(pod_ids), Pod.host_id == host_id))
        ).all()
    )
    return [p for p in pod_ids if p not in here]


async def draining_hosts(session: AsyncSession) -> list[Host]:
    """Hosts being drained: each becomes `drained` once no pod is left on it."""
    return list((await session.scalars(select(Host).where(Host.state == "draining"))).all())


async def settle_drain(session: AsyncSession, host: Host) -> None:
    """A draining host with no pod left on it is drained."""
    if host.state == "draining" and not await pods_on_host(session, host.id):
        host.state = "drained"


async def delete_host(session: AsyncSession, host: Host) -> None:
    await session.execute(delete(Host).where(Host.id == host.id))


def record_report(host: Host, usage: dict[str, int | None], metrics: dict[str, Any] | None) -> None:
    """Applies what an agent reported: the usage fields it sent (None keeps the old
    value), its metrics, the time; a new or offline host becomes active again."""
    for field in USAGE_FIELDS:
        value = usage.get(field)
        if value is not None:
            setattr(host, field, value)
    if metrics is not None:
        host.metrics = dict(metrics)
    host.last_heartbeat_at = datetime.now(UTC)
    if host.status in (None, "registering", "offline"):
        host.status = "active"


async def mark_stale_hosts(session: AsyncSession, max_silence: timedelta) -> None:
    """Hosts silent for longer than `max_silence` become offline (no new pods)."""
    cutoff = datetime.now(UTC) - max_silence
    await session.execute(
        update(Host)
        .where(
            Host.status == "active",
            or_(Host.last_heartbeat_at.is_(None), Host.last_heartbeat_at < cutoff),
        )
        .values(status="offline")
    )


async def hosts_page(
    session: AsyncSession, *, after: uuid.UUID | None, limit: int
) -> tuple[list[Host], bool]:
    """Hosts by name (then id), a page after host `after`, and whether more follow."""
    cursor = None if after is None else select(Host.name, Host.id).where(Host.id == after)
    rows, more = await keyset_page(
        session,
        select(Host),
        keys=[Host.name, Host.id],
        cursor=cursor,
        limit=limit,
        descending=False,
    )
    return [row[0] for row in rows], more
