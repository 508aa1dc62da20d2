"""Pods as the API reads and records them: the views, the create-time checks, lookups.

Pod creation locks the account's row (`lock_account`) until the pod is committed, so
two creates of one account cannot both pass the hostname check; the lock is released by
the caller's commit or rollback.
"""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

from sqlalchemy import Select, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.models import Account, Host, Pod, Snapshot
from db.repo.pagination import keyset_page
from tenantry.contracts.pod import PodStatus
from tenantry.rules.edge_names import account_handle, handle_id_range, pod_labels, split_hostname

PodRow = tuple[Pod, str | None, Snapshot | None]


def pod_services(pod: Pod) -> list[str]:
    """The names of the pod's services, from its stored (public) config."""
    services = (pod.config.get("pod") or {}).get("services") or []
    return [str(s["name"]) for s in services if isinstance(s, dict) and "name" in s]


async def _live_pods_of_handle(session: AsyncSession, handle: str) -> list[Pod] | None:
    """Live (not destroyed) pods of the accounts whose ids give this handle; None when no
    account id can (the handle is malformed). A primary-key range, so it stays cheap."""
    id_range = handle_id_range(handle)
    if id_range is None:
        return None
    pods = await session.scalars(
        select(Pod).where(
            Pod.account_id.between(*id_range), Pod.status != PodStatus.DESTROYED.value
        )
    )
    return list(pods)


async def get_pod(session: AsyncSession, pod_id: uuid.UUID) -> Pod | None:
    return await session.get(Pod, pod_id)


def add_pod(
    session: AsyncSession,
    *,
    id: uuid.UUID,
    account_id: uuid.UUID,
    name: str,
    tier: str,
    status: str,
    config: dict[str, Any],
    secrets: dict[str, str] | None,
    idle_timeout_seconds: int | None,
) -> Pod:
    """A new pod row (added; the caller's commit writes it, and an IntegrityError then
    means the account has a live pod of that name)."""
    pod = Pod(
        id=id,
        account_id=account_id,
        name=name,
        tier=tier,
        status=status,
        config=config,
        secrets=secrets,
        idle_timeout_seconds=idle_timeout_seconds,
    )
    session.add(pod)
    return pod


async def hostname_clash(
    session: AsyncSession, account_id: uuid.UUID, services: list[str], name: str
) -> tuple[Pod, str] | None:
    """The live pod already holding one of a new pod's hostname labels, and that label.

    Locks the account's row first (held until the caller commits), so two creates of one
    account cannot both pass; accounts sharing the handle are rare enough to check
    unlocked. A pod of the same account and name is skipped: the name's own uniqueness
    answers that one (an IntegrityError on insert).
    """
    await session.execute(select(Account.id).where(Account.id == account_id).with_for_update())
    live = await _live_pods_of_handle(session, account_handle(account_id))
    assert live is not None  # an account's own handle always has a range
    wanted = pod_labels(services, name)
    for other in live:
        if other.name == name and other.account_id == account_id:
            continue
        if clash := wanted & pod_labels(pod_services(other), other.name):
            return other, sorted(clash)[0]
    return None


@cache
def _viewed_pods() -> Select[Pod, str, Snapshot]:
    """Pods with their host's name and newest ready snapshot (each None when absent).

    What a pod's view shows, read in one round trip rather than three per pod: the
    reads are the API's most frequent requests (clients poll a pod until it runs).
    Built once (statements are immutable; `.where()` makes a new one): building it
    took ~0.2 ms, an eighth of the whole read.
    """
    newest = (
        select(Snapshot)
        .where(Snapshot.pod_id == Pod.id, Snapshot.status == "ready")
        .order_by(Snapshot.created_at.desc())
        .limit(1)
        .lateral()
    )
    snapshot = aliased(Snapshot, newest)
    return (
        select(Pod, Host.name, snapshot)
        .outerjoin(Host, Host.id == Pod.host_id)
        .outerjoin(newest, true())
    )


async def account_pod_rows(
    session: AsyncSession, account_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
) -> tuple[list[PodRow], bool]:
    """A page of the account's pods that are not destroyed, newest first, each with its
    view's parts, after the account's pod `after`; and whether more follow."""
    query = _viewed_pods().where(
        Pod.account_id == account_id, Pod.status != PodStatus.DESTROYED.value
    )
    cursor = (
        None
        if after is None
        else select(Pod.created_at, Pod.id).where(Pod.id == after, Pod.account_id == account_id)
    )
    rows, more = await keyset_page(
        session, query, keys=[Pod.created_at, Pod.id], cursor=cursor, limit=limit, descending=True
    )
    return [(pod, host, snap) for pod, host, snap in rows], more


async def account_pod_row(
    session: AsyncSession, account_id: uuid.UUID, pod_id: uuid.UUID
) -> PodRow | None:
    """One of the account's pods (destroyed ones too) with its view's parts."""
    query = _viewed_pods().where(Pod.id == pod_id, Pod.account_id == account_id)
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1], row[2])


async def find_pod_by_host(session: AsyncSession, host: str, base_domain: str) -> Pod | None:
    """The live pod (not destroyed) one of whose service hostnames is `host`."""
    parts = split_hostname(host, base_domain)
    if parts is None:
        return None
    local, handle = parts
    for pod in await _live_pods_of_handle(session, handle) or []:
        if local in {f"{service}-{pod.name}" for service in pod_services(pod)}:
            return pod
    return None


async def running_pod_ids(session: AsyncSession, pod_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Those of these pods that the database says are running."""
    rows = await session.scalars(
        select(Pod.id).where(Pod.id.in_(pod_ids), Pod.status == PodStatus.RUNNING.value)
    )
    return set(rows.all())
