"""Pod hosts as agents report them: registration, heartbeats, and who went silent.

A registration and a heartbeat lock the host's row, so two reports of one host apply
one after the other; the caller compares host keys and commits.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Host
from db.repo.pagination import keyset_page

USAGE_FIELDS = ("capacity_cpu_millis", "capacity_memory_mb", "used_cpu_millis", "used_memory_mb")


async def host_by_name_for_update(session: AsyncSession, name: str) -> Host | None:
    host: Host | None = await session.scalar(
        select(Host).where(Host.name == name).with_for_update()
    )
    return host


async def host_for_update(session: AsyncSession, host_id: uuid.UUID) -> Host | None:
    return await session.get(Host, host_id, with_for_update=True)


def new_host(
    session: AsyncSession, *, name: str, address: str, ssh_port: int, ssh_host_key: str
) -> Host:
    """A host registering for the first time (added to the session; flushed on commit)."""
    host = Host(name=name, address=address, ssh_port=ssh_port, ssh_host_key=ssh_host_key)
    session.add(host)
    return host


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
