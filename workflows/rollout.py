"""RolloutWorkflow: an image tag to every active tenant, canary first (`rollout-{id}`).

The plan is made once in the database (`rollout_prepare`: active tenants pending, the
others skipped with the reason), then tenants are taken in tenant-id order:

1. canary: the first `canary` tenants (at most `parallelism` at a time); all of them must
   pass before anything else is touched;
2. fleet: the rest, `parallelism` at a time.

Each tenant's step is the `deploy_version` update of its own TenantWorkflow (deploy over
SSH with the pinned host key, health gate on the new version, rollback to the previous
tag when the gate fails); see `activities/rollouts.py`. Policy: the first tenant that fails
(rolled back, or not healthy even after the rollback) halts the rollout: tenants in flight
finish, nothing new starts, the untouched ones are `not_started` and the rollout `failed`.
In the canary phase that means the fleet is never touched.

`pause` stops new tenants from starting (those in flight finish), `resume` goes on,
`cancel` ends it like a halt but `cancelled`; all three are validated updates (a request
that does not fit the status is a `Conflict`, 409 through the API). The workflow keeps
only a cursor and counts, so its history stays bounded: it continues-as-new when Temporal
suggests it (or past `max_history_length`), once the tenants in flight are done.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.rollouts import RolloutActivities
    from tenantry.contracts.common import SA_STAGE, ErrorType
    from tenantry.contracts.rollout import (
        ROLLOUT_TENANT_BAD,
        RolloutControl,
        RolloutInput,
        RolloutRef,
        RolloutState,
        RolloutStatus,
        RolloutStatusRecord,
        RolloutTargetsInput,
        TenantDeployInput,
    )

from workflows.policies import DEPLOY_RETRY, FOREVER, SLOW_HEARTBEAT, STEP_RETRY, step


@workflow.defn
class RolloutWorkflow:
    @workflow.init
    def __init__(self, inp: RolloutInput) -> None:
        self._s = inp.model_copy(deep=True)
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._buffer: list[str] = []
        self._exhausted = False
        self._finished: RolloutStatus | None = None
        self._record_lock = asyncio.Lock()
        self._quick = timedelta(seconds=inp.step_timeout_seconds)

    # -- messages ---------------------------------------------------------------------
    @workflow.update
    async def pause(self, ctl: RolloutControl) -> RolloutState:
        self._s.paused = True
        await self._record()
        return self.state()

    @pause.validator
    def _validate_pause(self, ctl: RolloutControl) -> None:
        self._require("pause", {RolloutStatus.RUNNING})

    @workflow.update
    async def resume(self, ctl: RolloutControl) -> RolloutState:
        self._s.paused = False
        await self._record()
        return self.state()

    @resume.validator
    def _validate_resume(self, ctl: RolloutControl) -> None:
        self._require("resume", {RolloutStatus.PAUSED})

    @workflow.update
    async def cancel(self, ctl: RolloutControl) -> RolloutState:
        self._s.cancel_requested = True
        if self._s.error is None:
            self._s.error = f"cancelled by {ctl.actor}" + (f": {ctl.reason}" if ctl.reason else "")
        await self._record()
        return self.state()

    @cancel.validator
    def _validate_cancel(self, ctl: RolloutControl) -> None:
        self._require("cancel", {RolloutStatus.RUNNING, RolloutStatus.PAUSED})

    @workflow.query
    def state(self) -> RolloutState:
        s = self._s
        return RolloutState(
            rollout_id=s.rollout_id,
            tag=s.tag,
            status=self._status(),
            phase=s.phase,
            launched=s.launched,
            done=s.done,
            in_flight=len(self._in_flight),
            error=s.error,
            runs=s.runs,
        )

    # -- the run ----------------------------------------------------------------------
    @workflow.run
    async def run(self, inp: RolloutInput) -> RolloutState:
        try:
            await self._roll()
        except ActivityError as err:  # a step of the rollout itself (not a tenant's) failed
            self._s.halted = True
            self._s.error = self._s.error or f"the rollout failed: {err.cause or err}"
        await workflow.wait_condition(lambda: not self._in_flight)
        if self._s.halted or self._s.cancel_requested:
            await step(
                RolloutActivities.rollout_finish_pending,
                RolloutRef(rollout_id=self._s.rollout_id),
                retry=FOREVER,
                limit=self._quick,
            )
        self._finished = (
            RolloutStatus.FAILED
            if self._s.halted
            else RolloutStatus.CANCELLED
            if self._s.cancel_requested
            else RolloutStatus.COMPLETED
        )
        self._s.phase = "done"
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._record()
        return self.state()

    async def _roll(self) -> None:
        if not self._s.prepared:
            await step(
                RolloutActivities.rollout_prepare,
                RolloutRef(rollout_id=self._s.rollout_id),
                limit=self._quick,
                retry=STEP_RETRY,
            )
            self._s.prepared = True
        await self._record()
        while True:
            await workflow.wait_condition(
                lambda: (
                    self._stopping()
                    or (not self._s.paused and len(self._in_flight) < self._limit())
                )
            )
            if self._stopping():
                return
            if self._s.phase == "canary" and self._s.launched >= self._s.canary:
                # Every canary must have passed before the fleet is touched.
                await workflow.wait_condition(lambda: not self._in_flight)
                if self._stopping():
                    return
                self._s.phase = "fleet"
                await self._record()
                continue
            tenant_id = await self._next_target()
            if tenant_id is None:
                return
            self._launch(tenant_id)
            if self._should_continue():
                await workflow.wait_condition(
                    lambda: not self._in_flight and workflow.all_handlers_finished()
                )
                next_run = self._s.model_copy(deep=True)
                next_run.runs += 1
                workflow.continue_as_new(next_run)

    def _stopping(self) -> bool:
        return self._s.halted or self._s.cancel_requested

    def _limit(self) -> int:
        if self._s.phase == "canary":
            return max(1, min(self._s.parallelism, self._s.canary))
        return self._s.parallelism

    def _should_continue(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._s.max_history_length
        )

    async def _next_target(self) -> str | None:
        if not self._buffer and not self._exhausted:
            page = await step(
                RolloutActivities.rollout_targets,
                RolloutTargetsInput(
                    rollout_id=self._s.rollout_id,
                    after_tenant_id=self._s.after_tenant_id,
                    limit=self._s.page_size,
                ),
                limit=self._quick,
                retry=STEP_RETRY,
            )
            self._buffer = list(page.tenant_ids)
            self._exhausted = len(self._buffer) < self._s.page_size
        return self._buffer.pop(0) if self._buffer else None

    def _launch(self, tenant_id: str) -> None:
        self._in_flight.add(tenant_id)
        self._s.launched += 1
        self._s.after_tenant_id = tenant_id
        task = asyncio.create_task(self._deploy(tenant_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deploy(self, tenant_id: str) -> None:
        budget = timedelta(seconds=self._s.health_budget_seconds)
        try:
            result = await step(
                RolloutActivities.rollout_deploy_tenant,
                TenantDeployInput(
                    rollout_id=self._s.rollout_id,
                    tenant_id=tenant_id,
                    tag=self._s.tag,
                    health_budget_seconds=self._s.health_budget_seconds,
                ),
                # the deploy, two gates and the rollback, each with its retries
                limit=budget * 2 + timedelta(minutes=15),
                heartbeat=SLOW_HEARTBEAT,
                retry=DEPLOY_RETRY,
            )
            if result.status in ROLLOUT_TENANT_BAD:
                await self._halt(f"tenant {tenant_id} {result.status.value}: {result.reason}")
        except ActivityError as err:
            await self._halt(f"the step for tenant {tenant_id} failed: {err.cause or err}")
        finally:
            self._in_flight.discard(tenant_id)
            self._s.done += 1

    async def _halt(self, reason: str) -> None:
        if self._s.halted:
            return
        self._s.halted = True
        self._s.error = reason
        await self._record()

    # -- status -----------------------------------------------------------------------
    def _status(self) -> RolloutStatus:
        if self._finished is not None:
            return self._finished
        if self._s.halted:
            return RolloutStatus.HALTING
        if self._s.cancel_requested:
            return RolloutStatus.CANCELLING
        if self._s.paused:
            return RolloutStatus.PAUSED
        return RolloutStatus.RUNNING

    def _require(self, what: str, allowed: set[RolloutStatus]) -> None:
        status = self._status()
        if status not in allowed:
            raise ApplicationError(
                f"cannot {what} a rollout that is {status.value}", type=ErrorType.CONFLICT
            )

    async def _record(self) -> None:
        """Writes the status as it is when the write runs; writes never overtake each other."""
        async with self._record_lock:
            status = self._status()
            workflow.upsert_search_attributes([SA_STAGE.value_set(status.value)])
            await step(
                RolloutActivities.rollout_record_status,
                RolloutStatusRecord(
                    rollout_id=self._s.rollout_id,
                    status=status,
                    phase=self._s.phase,
                    error=self._s.error,
                ),
                retry=FOREVER,
                limit=self._quick,
            )
