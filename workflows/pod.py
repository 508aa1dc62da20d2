"""PodWorkflow: one pod for its whole life (`pod-{pod_id}`).

Creating places the pod on the least-loaded available host with room for its tier and
runs its container there over SSH. Afterwards the workflow waits for updates:

- `hibernate`: stop, snapshot the workspace to S3, verify the stored object, and only
  then free the host's share; the host keeps the stopped pod as a copy within its cache
  budget (or removes it). The last N snapshots are kept. A failed snapshot starts the
  container again (running, with the error), so a pod is never lost.
- `restore`: place the pod on the host keeping its copy when that one is available and
  has room, else on any available host, and restore the newest snapshot there (from the
  kept copy when it is that snapshot's bytes, else downloaded); a corrupt snapshot is
  refused (and deleted) and the one before it is tried.
- `keepalive`: counts as activity; with an idle timeout, a running pod that sees no
  activity for that long hibernates by itself.
- workspace: with `workspace_check_seconds`, a running pod's workspace is measured that
  often; a full one (its own ext4 filesystem of the tier's size, so only this pod's
  writes fail) is recorded as `running` with reason `workspace_full` and an error that
  says why, and cleared when it has room again.
- `destroy`: remove the container, the workspace, every snapshot, the pod's edge routes
  and its secrets.

At the edge (Caddy), each service of a running pod is routed to its container; from the
moment a pod starts to hibernate its hostnames are routed to the waker (the API's wake
endpoint, which restores the pod on the next request), and destroying removes them.

Validators refuse requests that conflict with what the pod is doing (`Conflict`, which
the API answers with 409); repeating a request that is already under way is accepted.
Every status change is a pod event (metering reads them) and the `Stage` search
attribute. The workflow continues-as-new when Temporal suggests it, once its handlers
have finished, carrying its state in `PodInput`.

Bookkeeping (status, pod events, snapshot rows, activity, keys) is short database
upserts keyed by business identity: local activities, with no task-queue round trip.
Steps on a pod's host go over SSH as activities that heartbeat.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.edge import EdgeActivities
    from activities.pods.hosts import PodHostActivities
    from activities.pods.records import PodRecordActivities
    from tenantry.contracts.common import SA_ACCOUNT_ID, SA_POD_ID, SA_STAGE, PodErrorType
    from tenantry.contracts.pod import (
        PodActivity,
        PodHostCall,
        PodInput,
        PodKeepCachedInput,
        PodPlacement,
        PodRequest,
        PodRestoreInput,
        PodRoutes,
        PodRunInput,
        PodSnapshotInput,
        PodSnapshotRecord,
        PodState,
        PodStatus,
        PodStatusChange,
        ReserveHostInput,
        SnapshotStatusChange,
    )
    from tenantry.contracts.podhost import ContainerInfo, SnapshotRef, WorkspaceUsage

from workflows.policies import (
    EDGE_RETRY,
    HOST_TIMEOUT,
    PLACEMENT_RETRY,
    POD_CLEANUP_RETRY,
    POD_STEP_RETRY,
    QUICK,
    step,
)

Op = str  # "hibernate" | "restore" | "destroy"


def _conflict(message: str) -> ApplicationError:
    return ApplicationError(message, type=PodErrorType.CONFLICT, non_retryable=True)


def _reason(err: BaseException) -> str:
    cause = err.cause if isinstance(err, ActivityError) and err.cause else err
    return str(cause) or type(cause).__name__


def _earliest(*waits: timedelta | None) -> timedelta | None:
    """The shortest of the timers that are set (None when none is)."""
    return min((w for w in waits if w is not None), default=None)


def _workspace_full_message(usage: WorkspaceUsage) -> str:
    mb = 1024 * 1024
    return (
        f"workspace full: {usage.used_bytes // mb} MB of {usage.limit_bytes // mb} MB used; "
        "writes fail until files are deleted (or the pod moves to a larger tier)"
    )


def _error_type(err: BaseException) -> str | None:
    cause = err.cause if isinstance(err, ActivityError) else err
    return cause.type if isinstance(cause, ApplicationError) else None


@workflow.defn
class PodWorkflow:
    @workflow.init
    def __init__(self, inp: PodInput) -> None:
        self._s = inp.model_copy(deep=True)
        self._pending: Op | None = None
        self._pending_source = "api"
        self._workspace_check_at = workflow.now()

    # -- messages ---------------------------------------------------------------------
    @workflow.query
    def state(self) -> PodState:
        s = self._s
        urls: dict[str, str] = {}
        if s.container is not None and s.status == PodStatus.RUNNING:
            urls = {p.name: f"http://{p.host_address}:{p.host_port}" for p in s.container.ports}
        return PodState(
            pod_id=s.pod_id,
            status=s.status,
            host=s.placement.host.name if s.placement else None,
            urls=urls,
            last_activity=s.last_activity,
            last_activity_source=s.last_activity_source,
            snapshot=s.snapshots[-1].ref if s.snapshots else None,
            pending=self._pending,
            error=s.error or s.workspace_full,
        )

    @workflow.update
    def hibernate(self, request: PodRequest) -> PodState:
        if self._s.status == PodStatus.RUNNING and self._pending is None:
            self._pending, self._pending_source = "hibernate", request.source
        return self.state()

    @hibernate.validator
    def _validate_hibernate(self, request: PodRequest) -> None:
        status, pending = self._s.status, self._pending
        if pending == "hibernate" or status in (PodStatus.HIBERNATING, PodStatus.HIBERNATED):
            return
        if status != PodStatus.RUNNING or pending is not None:
            raise _conflict(f"cannot hibernate a pod that is {self._doing()}")

    @workflow.update
    def restore(self, request: PodRequest) -> PodState:
        if self._s.status in (PodStatus.HIBERNATED, PodStatus.FAILED) and self._pending is None:
            self._pending, self._pending_source = "restore", request.source
        return self.state()

    @restore.validator
    def _validate_restore(self, request: PodRequest) -> None:
        status, pending = self._s.status, self._pending
        if pending == "restore" or (status in (PodStatus.RESTORING, PodStatus.RUNNING)
                                     and pending is None):  # fmt: skip
            return
        restorable = status == PodStatus.HIBERNATED or (
            status == PodStatus.FAILED and bool(self._s.snapshots)
        )
        if not restorable or pending is not None:
            raise _conflict(f"cannot restore a pod that is {self._doing()}")

    @workflow.update
    async def keepalive(self, request: PodRequest) -> PodState:
        await self._touch(request.source or "keepalive")
        return self.state()

    @keepalive.validator
    def _validate_keepalive(self, request: PodRequest) -> None:
        if self._s.status != PodStatus.RUNNING or self._pending is not None:
            raise _conflict(f"only a running pod can be kept alive; it is {self._doing()}")

    @workflow.update
    def destroy(self, request: PodRequest) -> PodState:
        if self._pending != "destroy" and self._s.status not in (
            PodStatus.DESTROYING,
            PodStatus.DESTROYED,
        ):
            # Destroy wins over a request not yet started.
            self._pending, self._pending_source = "destroy", request.source
        return self.state()

    @destroy.validator
    def _validate_destroy(self, request: PodRequest) -> None:
        return None

    def _doing(self) -> str:
        if self._pending is not None:
            return f"{self._s.status.value} (about to {self._pending})"
        return self._s.status.value

    # -- the run ----------------------------------------------------------------------
    @workflow.run
    async def run(self, inp: PodInput) -> PodState:
        workflow.upsert_search_attributes(
            [
                SA_POD_ID.value_set(inp.pod_id),
                SA_ACCOUNT_ID.value_set(inp.account_id),
                SA_STAGE.value_set(self._s.status.value),
            ]
        )
        if self._s.status == PodStatus.CREATING:
            await self._create()
        while self._s.status != PodStatus.DESTROYED:
            try:
                await workflow.wait_condition(
                    lambda: (
                        self._pending is not None or workflow.info().is_continue_as_new_suggested()
                    ),
                    timeout=_earliest(self._idle_remaining(), self._workspace_check_remaining()),
                )
            except TimeoutError:
                if self._idle_expired():
                    self._pending, self._pending_source = "hibernate", "idle"
                elif self._workspace_check_remaining() == timedelta(milliseconds=1):
                    await self._check_workspace()
                continue
            if self._pending is not None:
                op, self._pending = self._pending, None
                await self._run_op(op)
                continue
            await workflow.wait_condition(workflow.all_handlers_finished)
            if self._pending is None:
                workflow.continue_as_new(self._s)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    async def _run_op(self, op: Op) -> None:
        if op == "hibernate":
            await self._hibernate()
        elif op == "restore":
            await self._restore()
        elif op == "destroy":
            await self._destroy()

    # -- idle -------------------------------------------------------------------------
    def _idle_remaining(self) -> timedelta | None:
        s = self._s
        if s.status != PodStatus.RUNNING or not s.idle_timeout_seconds or not s.last_activity:
            return None
        left = s.last_activity + timedelta(seconds=s.idle_timeout_seconds) - workflow.now()
        return max(left, timedelta(milliseconds=1))

    def _idle_expired(self) -> bool:
        left = self._idle_remaining()
        return self._pending is None and left is not None and left <= timedelta(milliseconds=1)

    # -- workspace quota --------------------------------------------------------------
    def _workspace_check_remaining(self) -> timedelta | None:
        s = self._s
        if s.status != PodStatus.RUNNING or not s.workspace_check_seconds:
            return None
        return max(self._workspace_check_at - workflow.now(), timedelta(milliseconds=1))

    async def _check_workspace(self) -> None:
        """Measures the workspace; records the change when it fills up or has room again."""
        interval = timedelta(seconds=self._s.workspace_check_seconds or 0)
        self._workspace_check_at = workflow.now() + interval
        placement = self._s.placement
        if placement is None:
            return
        call = PodHostCall(placement=placement, pod_id=self._s.pod_id)
        try:
            usage: WorkspaceUsage = await self._host(PodHostActivities.pod_workspace_usage, call)
        except ActivityError as err:
            workflow.logger.warning(
                "pod %s: workspace not measured: %s", self._s.pod_id, _reason(err)
            )
            return
        full = _workspace_full_message(usage) if usage.over_quota else None
        if (full is None) == (self._s.workspace_full is None):
            return
        self._s.workspace_full = full
        await self._record(PodStatus.RUNNING, status_reason="workspace_full" if full else None)

    async def _touch(self, source: str) -> None:
        self._s.last_activity = workflow.now()
        self._s.last_activity_source = source
        await step(
            PodRecordActivities.pod_record_activity,
            PodActivity(pod_id=self._s.pod_id, at=self._s.last_activity, source=source),
            local=True,
            limit=QUICK,
            retry=POD_CLEANUP_RETRY,
        )

    # -- steps ------------------------------------------------------------------------
    async def _create(self) -> None:
        await self._record(PodStatus.CREATING)
        try:
            placement = await step(
                PodRecordActivities.pod_reserve_host,
                ReserveHostInput(pod_id=self._s.pod_id, tier=self._s.spec.tier),
                limit=QUICK,
                retry=PLACEMENT_RETRY,
            )
            self._s.placement = placement
            info = await self._host(
                PodHostActivities.pod_run_container,
                PodRunInput(placement=placement, spec=self._s.spec),
            )
        except ActivityError as err:
            await self._free_host()
            self._s.error = _reason(err)
            await self._record(PodStatus.FAILED, clear_host=True)
            return
        await self._running(info, "created")

    async def _hibernate(self) -> None:
        placement = self._s.placement
        assert placement is not None
        source = self._pending_source  # who asked: api, idle, credits
        self._s.error = None
        self._s.workspace_full = None  # measured again once it runs
        await self._record(PodStatus.HIBERNATING, status_reason=source)
        # From now on a request for the pod wakes it (once it is hibernated).
        await self._route(None)
        call = PodHostCall(placement=placement, pod_id=self._s.pod_id)
        snapshot_id = str(workflow.uuid4())
        key = f"pods/{self._s.account_id}/{self._s.pod_id}/{snapshot_id}.tar.zst"
        recorded = False
        try:
            await self._host(PodHostActivities.pod_stop_container, call)
            await self._snapshot_row(snapshot_id, "uploading", s3_key=key)
            recorded = True
            info = await self._host(
                PodHostActivities.pod_snapshot_to_s3,
                PodSnapshotInput(
                    placement=placement,
                    pod_id=self._s.pod_id,
                    bucket=self._s.bucket,
                    key=key,
                    snapshot_id=snapshot_id,
                ),
            )
            ref = info.ref()
            await self._host(PodHostActivities.pod_verify_snapshot, ref)
        except ActivityError as err:
            # Nothing was removed: start the pod again where it is.
            self._s.error = f"hibernate failed, pod kept running: {_reason(err)}"
            if recorded:
                await self._snapshot_row(snapshot_id, "failed", s3_key=key)
            info_again = await self._host(
                PodHostActivities.pod_run_container,
                PodRunInput(placement=placement, spec=self._s.spec),
                retry=POD_CLEANUP_RETRY,
            )
            await self._running(info_again, "hibernate-failed")
            return
        await self._snapshot_row(snapshot_id, "ready", ref=ref)
        self._s.snapshots.append(
            PodSnapshotRecord(snapshot_id=snapshot_id, ref=ref, taken_at=workflow.now())
        )
        # The snapshot is safe in S3: only now may the host free the pod (or keep it
        # stopped, as a copy a restore there starts without downloading).
        await self._keep_or_free(placement, ref)
        await self._record(PodStatus.HIBERNATED, clear_host=True, status_reason=source)
        await self._prune_snapshots()

    async def _restore(self) -> None:
        self._s.error = None
        await self._record(PodStatus.RESTORING)
        cached_on = self._s.cached_on
        try:
            placement = await step(
                PodRecordActivities.pod_reserve_host,
                ReserveHostInput(
                    pod_id=self._s.pod_id,
                    tier=self._s.spec.tier,
                    prefer_host_id=cached_on.host_id if cached_on else None,
                ),
                limit=QUICK,
                retry=PLACEMENT_RETRY,
            )
        except ActivityError as err:
            self._s.error = f"restore failed: {_reason(err)}"
            await self._record(PodStatus.HIBERNATED, clear_host=True)
            return
        self._s.placement = placement
        if cached_on is not None:
            # The kept copy is used by this restore (on its host) or left behind, and
            # removed at the latest when the pod is destroyed.
            if cached_on.host_id != placement.host_id and all(
                p.host_id != cached_on.host_id for p in self._s.stale_copies
            ):
                self._s.stale_copies.append(cached_on)
            self._s.cached_on = None
        while self._s.snapshots:
            latest = self._s.snapshots[-1]
            try:
                info = await self._host(
                    PodHostActivities.pod_restore_from_s3,
                    PodRestoreInput(placement=placement, spec=self._s.spec, snapshot=latest.ref),
                )
            except ActivityError as err:
                if _error_type(err) in (PodErrorType.SNAPSHOT_CORRUPT, "SnapshotNotFound"):
                    # Refused: drop it and try the one before.
                    workflow.logger.warning("snapshot %s refused: %s", latest.ref.key, _reason(err))
                    self._s.snapshots.pop()
                    await self._snapshot_row(latest.snapshot_id, "failed", ref=latest.ref)
                    await self._delete_snapshot(latest.ref)
                    self._s.error = f"snapshot {latest.snapshot_id} refused: {_reason(err)}"
                    continue
                await self._free_host()
                self._s.error = f"restore failed: {_reason(err)}"
                await self._record(PodStatus.HIBERNATED, clear_host=True)
                return
            await self._running(info, "restored")
            return
        await self._free_host()
        self._s.error = (self._s.error or "") + "; no intact snapshot is left"
        await self._record(PodStatus.FAILED, clear_host=True)

    async def _destroy(self) -> None:
        await self._record(PodStatus.DESTROYING)
        await self._unroute()
        await self._free_host()
        # Kept copies of the hibernated pod on other hosts hold its data too.
        for kept in [*self._s.stale_copies, *([self._s.cached_on] if self._s.cached_on else [])]:
            call = PodHostCall(placement=kept, pod_id=self._s.pod_id)
            await self._host(
                PodHostActivities.pod_remove_container_if_present, call, POD_CLEANUP_RETRY
            )
            await self._host(
                PodHostActivities.pod_remove_workspace_if_present, call, POD_CLEANUP_RETRY
            )
        self._s.stale_copies, self._s.cached_on = [], None
        for snap in list(self._s.snapshots):
            await self._delete_snapshot(snap.ref)
            await self._snapshot_row(snap.snapshot_id, "deleted", ref=snap.ref)
        self._s.snapshots = []
        await step(
            PodRecordActivities.pod_delete_keys,
            self._s.pod_id,
            local=True,
            limit=QUICK,
            retry=POD_CLEANUP_RETRY,
        )
        await self._record(PodStatus.DESTROYED, clear_host=True)

    async def _prune_snapshots(self) -> None:
        keep = max(self._s.snapshots_to_keep, 1)
        while len(self._s.snapshots) > keep:
            old = self._s.snapshots.pop(0)
            await self._delete_snapshot(old.ref)
            await self._snapshot_row(old.snapshot_id, "deleted", ref=old.ref)

    # -- the edge ---------------------------------------------------------------------
    async def _route(self, info: ContainerInfo | None) -> None:
        """Routes each service to the container's published port, or (None) to the waker."""
        targets: dict[str, str | None] = {svc.name: None for svc in self._s.spec.services}
        if info is not None:
            targets.update({p.name: f"{p.host_address}:{p.host_port}" for p in info.ports})
        routes = PodRoutes(
            pod_id=self._s.pod_id,
            account_id=self._s.account_id,
            name=self._s.name,
            targets=targets,
        )
        await self._edge_call(EdgeActivities.edge_route_pod, routes)

    async def _unroute(self) -> None:
        await self._edge_call(EdgeActivities.edge_remove_pod_routes_if_present, self._s.pod_id)

    async def _edge_call(self, fn: Callable[..., Awaitable[Any]], arg: Any) -> None:
        try:
            await step(fn, arg, limit=QUICK, retry=EDGE_RETRY)
        except ActivityError as err:
            workflow.logger.warning("pod %s: edge not updated: %s", self._s.pod_id, _reason(err))

    # -- building blocks --------------------------------------------------------------
    async def _running(self, info: ContainerInfo, source: str) -> None:
        # Routed before it is recorded running: a running pod's URL answers.
        await self._route(info)
        self._s.container = info
        checks = timedelta(seconds=self._s.workspace_check_seconds or 0)
        self._workspace_check_at = workflow.now() + checks
        self._s.last_activity = workflow.now()
        self._s.last_activity_source = source
        placement = self._s.placement
        await self._record(
            PodStatus.RUNNING,
            host_id=placement.host_id if placement else None,
            container_id=info.container_id,
            endpoints={p.name: f"http://{p.host_address}:{p.host_port}" for p in info.ports},
        )

    async def _keep_or_free(self, placement: PodPlacement, ref: SnapshotRef) -> None:
        """Leaves the stopped pod on its host as a kept copy, within the host's budget
        (the activity removes it otherwise, as `_free_host` would), in one step."""
        kept = await self._host(
            PodHostActivities.pod_keep_cached,
            PodKeepCachedInput(placement=placement, pod_id=self._s.pod_id, snapshot=ref),
            POD_CLEANUP_RETRY,
        )
        self._s.cached_on = placement if kept.kept else None
        self._s.placement = None
        self._s.container = None

    async def _free_host(self) -> None:
        """Removes the container and workspace from the pod's host, if it has one."""
        placement: PodPlacement | None = self._s.placement
        if placement is None:
            return
        call = PodHostCall(placement=placement, pod_id=self._s.pod_id)
        await self._host(PodHostActivities.pod_remove_container_if_present, call, POD_CLEANUP_RETRY)
        await self._host(PodHostActivities.pod_remove_workspace_if_present, call, POD_CLEANUP_RETRY)
        self._s.placement = None
        self._s.container = None

    async def _delete_snapshot(self, ref: SnapshotRef) -> None:
        await step(
            PodHostActivities.pod_delete_snapshot_if_present,
            ref,
            limit=timedelta(minutes=2),
            retry=POD_CLEANUP_RETRY,
        )

    async def _snapshot_row(
        self,
        snapshot_id: str,
        status: str,
        *,
        ref: SnapshotRef | None = None,
        s3_key: str | None = None,
    ) -> None:
        await step(
            PodRecordActivities.pod_record_snapshot,
            SnapshotStatusChange(
                snapshot_id=snapshot_id,
                pod_id=self._s.pod_id,
                status=status,
                ref=ref,
                s3_key=s3_key,
            ),
            local=True,
            limit=QUICK,
            retry=POD_CLEANUP_RETRY,
        )

    async def _record(self, status: PodStatus, **fields: Any) -> None:
        self._s.status = status
        self._s.event_seq += 1
        workflow.upsert_search_attributes([SA_STAGE.value_set(status.value)])
        await step(
            PodRecordActivities.pod_record_status,
            PodStatusChange(
                pod_id=self._s.pod_id,
                status=status,
                tier=self._s.spec.tier,
                idempotency_key=f"pod-{self._s.pod_id}:{self._s.event_seq}:{status.value}",
                error=self._s.error or self._s.workspace_full,
                last_activity=self._s.last_activity,
                last_activity_source=self._s.last_activity_source,
                **fields,
            ),
            local=True,
            limit=QUICK,
            retry=POD_CLEANUP_RETRY,
        )

    async def _host(
        self, fn: Callable[..., Awaitable[Any]], arg: Any, retry: RetryPolicy = POD_STEP_RETRY
    ) -> Any:
        """A step on the pod's host, over SSH: an activity that heartbeats."""
        return await step(
            fn,
            arg,
            limit=HOST_TIMEOUT,
            heartbeat=timedelta(seconds=self._s.heartbeat_seconds),
            retry=retry,
        )
