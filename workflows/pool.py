"""ServerPoolWorkflow: keeps N booted, unassigned tenant servers of one tier at one location.

One run per pool (`server-pool-{tier}-{location}`), started by the worker for every pool
with a size (`TENANTRY_SERVER_POOL_SIZES`). It counts the ready servers, creates the
missing ones in parallel (each under a fresh name, its undo registered first) and
retires the extra ones. A signup that claims a server (or finds the pool empty) signals
`demand`, which wakes the pool to refill at once; after `idle_seconds` without demand the
pool shrinks to none, and the next demand brings it back. It checks again every
`check_seconds` anyway, so a lost signal only delays a refill.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.pool import PoolActivities
    from tenantry.contracts.pool import (
        PoolCensus,
        PoolConfig,
        PoolDemand,
        PoolInput,
        PoolServerRef,
        PoolServerSpec,
        PoolState,
    )
    from tenantry.rules.plans import TENANT_PLANS, TenantTier

from workflows.policies import (
    FOREVER,
    HEARTBEAT,
    HOST_TIMEOUT,
    PAGE_TIMEOUT,
    QUICK,
    STEP_RETRY,
    step,
)


@workflow.defn
class ServerPoolWorkflow:
    @workflow.init
    def __init__(self, inp: PoolInput) -> None:
        self._key = inp.key
        self._config = inp.config
        self._last_demand: datetime | None = inp.last_demand_at
        self._woken = False
        self._creating: dict[str, asyncio.Task[None]] = {}
        self._target = 0

    @workflow.signal
    def demand(self, demand: PoolDemand) -> None:
        self._last_demand = workflow.now()
        self._woken = True

    @workflow.signal
    def configure(self, config: PoolConfig) -> None:
        self._config = config
        self._woken = True

    @workflow.query
    def state(self) -> PoolState:
        return PoolState(
            key=self._key,
            config=self._config,
            target=self._target,
            in_flight=len(self._creating),
            last_demand_at=self._last_demand,
        )

    @workflow.run
    async def run(self, inp: PoolInput) -> None:
        if self._last_demand is None:
            self._last_demand = workflow.now()
        server_type = TENANT_PLANS[TenantTier(inp.key.tier)].server_type
        while True:
            census: PoolCensus = await step(
                PoolActivities.pool_census, inp.key, limit=QUICK, retry=FOREVER
            )
            self._target = self._wanted()
            for _ in range(self._target - census.ready - len(self._creating)):
                name = f"pool-{inp.key.tier}-{inp.key.location}-{workflow.uuid4().hex[:10]}"
                spec = PoolServerSpec(key=inp.key, name=name, server_type=server_type)
                self._creating[name] = asyncio.create_task(self._create(spec))
            if not self._creating:
                for _ in range(census.ready - self._target):
                    await step(
                        PoolActivities.pool_retire_server,
                        inp.key,
                        limit=PAGE_TIMEOUT,
                        heartbeat=HEARTBEAT,
                        retry=FOREVER,
                    )
                if workflow.info().is_continue_as_new_suggested():
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    workflow.continue_as_new(
                        PoolInput(
                            key=inp.key, config=self._config, last_demand_at=self._last_demand
                        )
                    )
            self._woken = False
            with contextlib.suppress(TimeoutError):  # the next check is due
                await workflow.wait_condition(lambda: self._woken, timeout=self._sleep())

    def _wanted(self) -> int:
        assert self._last_demand is not None
        quiet = workflow.now() - self._last_demand
        return 0 if quiet >= timedelta(seconds=self._config.idle_seconds) else self._config.size

    def _sleep(self) -> timedelta:
        """Until the next check, or the moment the pool falls idle, whichever is sooner."""
        check = timedelta(seconds=self._config.check_seconds)
        assert self._last_demand is not None
        idle_at = self._last_demand + timedelta(seconds=self._config.idle_seconds)
        until_idle = idle_at - workflow.now()
        if self._target > 0 and timedelta(0) < until_idle < check:
            return until_idle
        return check

    async def _create(self, spec: PoolServerSpec) -> None:
        """One pool server; on a failure for good its undo removes what the create left."""
        try:
            await step(
                PoolActivities.pool_create_server,
                spec,
                limit=HOST_TIMEOUT,
                heartbeat=HEARTBEAT,
                retry=STEP_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning("pool server %s not created: %s", spec.name, err.cause)
            await asyncio.shield(
                workflow.start_activity_method(
                    PoolActivities.pool_delete_server_if_present,
                    PoolServerRef(name=spec.name),
                    start_to_close_timeout=PAGE_TIMEOUT,
                    heartbeat_timeout=HEARTBEAT,
                    retry_policy=FOREVER,
                )
            )
            # Hetzner refuses for now: the next attempt waits for the next check.
            await workflow.sleep(timedelta(seconds=self._config.check_seconds))
        finally:
            self._creating.pop(spec.name, None)
            self._woken = True
