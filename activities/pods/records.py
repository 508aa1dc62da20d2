"""Database activities of pods: host placement, status changes with their pod events,
snapshot rows and the pod's secrets.

Every write is keyed by business identity, so a retried activity changes nothing twice:
a status change inserts its pod event `ON CONFLICT DO NOTHING` on the workflow's
idempotency key, a snapshot row is upserted by its id, a reservation returns the host
the pod already holds.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.models import Host, Pod, PodEvent, Snapshot
from db.repo.hosts import mark_stale_hosts
from tenantry.contracts.common import PodErrorType
from tenantry.contracts.pod import (
    PodActivity,
    PodPlacement,
    PodStatusChange,
    ReserveHostInput,
    SnapshotStatusChange,
)
from tenantry.contracts.podhost import PodHostRef
from tenantry.rules.plans import POD_PLANS, PodTier

# Pods that hold a share of their host (placed and not yet freed).
PLACED_STATUSES = ("creating", "running", "hibernating", "restoring", "destroying")


def tier_millis(tier: str) -> tuple[int, int]:
    plan = POD_PLANS[PodTier(tier)]
    return int(plan.cpus * 1000), plan.memory_mb


def placement_of(host: Host) -> PodPlacement:
    return PodPlacement(
        host_id=str(host.id),
        host=PodHostRef(name=host.name, address=host.address, port=host.ssh_port),
        host_key=host.ssh_host_key,
    )


class PodRecordActivities:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, heartbeat_timeout: timedelta
    ) -> None:
        self._sessions = sessions
        self._heartbeat_timeout = heartbeat_timeout

    @activity.defn
    async def pod_reserve_host(self, input: ReserveHostInput) -> PodPlacement:
        """The least-loaded available host with room for the tier, held for the pod.

        Available: reporting (`active`) and approved by an admin; a pending, cordoned,
        draining or drained host gets no new pods. The preferred host (the one keeping
        the pod's stopped copy) wins when it is available and has room."""
        need_cpu, need_mem = tier_millis(input.tier)
        async with self._sessions() as session, session.begin():
            pod = await session.get(Pod, uuid.UUID(input.pod_id), with_for_update=True)
            if pod is None:
                raise ApplicationError(
                    f"pod {input.pod_id} not found", type="NotFound", non_retryable=True
                )
            await mark_stale_hosts(session, self._heartbeat_timeout)
            if pod.host_id is not None:
                held = await session.get(Host, pod.host_id)
                if held is not None and held.status == "active" and held.state == "approved":
                    return placement_of(held)
            hosts = (
                await session.scalars(
                    select(Host)
                    .where(Host.status == "active", Host.state == "approved")
                    .order_by(Host.name)
                    .with_for_update()
                )
            ).all()
            usage: dict[uuid.UUID, list[int]] = {h.id: [0, 0] for h in hosts}
            placed = await session.execute(
                select(Pod.host_id, Pod.tier).where(
                    Pod.host_id.in_(list(usage)),
                    Pod.status.in_(PLACED_STATUSES),
                    Pod.id != pod.id,
                )
            )
            for host_id, tier in placed:
                if host_id is not None:
                    cpu, mem = tier_millis(tier)
                    usage[host_id][0] += cpu
                    usage[host_id][1] += mem
            fits = [
                h
                for h in hosts
                if h.capacity_cpu_millis - usage[h.id][0] >= need_cpu
                and h.capacity_memory_mb - usage[h.id][1] >= need_mem
            ]
            if not fits:
                raise ApplicationError(
                    f"no available pod host has room for a {input.tier} pod",
                    type=PodErrorType.NO_HOST_AVAILABLE,
                )
            preferred = [h for h in fits if str(h.id) == input.prefer_host_id]
            best = (
                preferred[0]
                if preferred
                else min(
                    fits,
                    key=lambda h: (
                        max(
                            usage[h.id][0] / max(h.capacity_cpu_millis, 1),
                            usage[h.id][1] / max(h.capacity_memory_mb, 1),
                        ),
                        h.name,
                    ),
                )
            )
            pod.host_id = best.id
            return placement_of(best)

    @activity.defn
    async def pod_record_status(self, change: PodStatusChange) -> None:
        """Updates the pod's row and records the change as one pod event (once per key)."""
        now = datetime.now(UTC)
        async with self._sessions() as session, session.begin():
            pod = await session.get(Pod, uuid.UUID(change.pod_id), with_for_update=True)
            if pod is None:
                raise ApplicationError(
                    f"pod {change.pod_id} not found", type="NotFound", non_retryable=True
                )
            await session.execute(
                insert(PodEvent)
                .values(
                    pod_id=pod.id,
                    kind=change.status.value,
                    tier=change.tier.value,
                    idempotency_key=change.idempotency_key,
                )
                .on_conflict_do_nothing(index_elements=[PodEvent.idempotency_key])
            )
            pod.status = change.status.value
            if change.clear_host:
                pod.host_id = None
                pod.container_id = None
            if change.host_id is not None:
                pod.host_id = uuid.UUID(change.host_id)
            if change.container_id is not None:
                pod.container_id = change.container_id
            if change.endpoints is not None:
                pod.config = {**pod.config, "endpoints": change.endpoints}
            pod.error = change.error
            pod.status_reason = change.status_reason
            if change.last_activity is not None:
                pod.last_activity_at = change.last_activity
                pod.last_activity_source = change.last_activity_source
            if change.status.value == "destroyed" and pod.destroyed_at is None:
                pod.destroyed_at = now

    @activity.defn
    async def pod_record_activity(self, change: PodActivity) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Pod)
                .where(Pod.id == uuid.UUID(change.pod_id))
                .values(last_activity_at=change.at, last_activity_source=change.source)
            )

    @activity.defn
    async def pod_record_snapshot(self, change: SnapshotStatusChange) -> None:
        values: dict[str, object] = {
            "id": uuid.UUID(change.snapshot_id),
            "pod_id": uuid.UUID(change.pod_id),
            "s3_key": change.s3_key or (change.ref.key if change.ref else ""),
            "status": change.status,
        }
        if change.ref is not None:
            values["size_bytes"] = change.ref.size
            values["sha256"] = change.ref.sha256
        if change.status == "ready":
            values["completed_at"] = datetime.now(UTC)
        if change.status in ("deleted", "failed"):
            # Storage is billed until the object went; a retry keeps the first time.
            values["deleted_at"] = datetime.now(UTC)
        updates: dict[str, object] = {
            k: v for k, v in values.items() if k not in ("id", "pod_id", "s3_key")
        }
        if "deleted_at" in updates:
            updates["deleted_at"] = func.coalesce(Snapshot.deleted_at, updates["deleted_at"])
        statement = insert(Snapshot).values(values)
        statement = statement.on_conflict_do_update(index_elements=[Snapshot.id], set_=updates)
        async with self._sessions() as session, session.begin():
            await session.execute(statement)

    @activity.defn
    async def pod_delete_keys(self, pod_id: str) -> None:
        """Forgets the pod's secrets (a destroyed pod keeps none)."""
        async with self._sessions() as session, session.begin():
            pod = await session.get(Pod, uuid.UUID(pod_id), with_for_update=True)
            if pod is not None:
                pod.secrets = None
