"""The warm pools the settings ask for: one `ServerPoolWorkflow` per `tier/location`.

Started by the worker at startup (an existing run is joined, never doubled) and told the
current size and idle time with the `configure` signal, so a changed setting applies on
the next worker start. A pool set to 0 that runs is told to shrink; one never started
is left alone.
"""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from tenantry.contracts.common import server_pool_workflow_id
from tenantry.contracts.pool import PoolConfig, PoolInput, PoolKey
from tenantry.settings import CoreSettings
from workflows.pool import ServerPoolWorkflow


def pool_configs(settings: CoreSettings) -> list[tuple[PoolKey, PoolConfig]]:
    pools = []
    for key, size in sorted(settings.server_pool_sizes.items()):
        tier, _, location = key.partition("/")
        config = PoolConfig(
            size=size,
            idle_seconds=settings.server_pool_idle.total_seconds(),
            check_seconds=settings.server_pool_check.total_seconds(),
        )
        pools.append((PoolKey(tier=tier, location=location), config))
    return pools


async def ensure_pools(client: Client, settings: CoreSettings) -> None:
    for key, config in pool_configs(settings):
        workflow_id = server_pool_workflow_id(key.tier, key.location)
        handle: WorkflowHandle[ServerPoolWorkflow, None]
        if config.size > 0:
            handle = await client.start_workflow(
                ServerPoolWorkflow.run,
                PoolInput(key=key, config=config),
                id=workflow_id,
                task_queue=settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        else:
            handle = client.get_workflow_handle_for(ServerPoolWorkflow.run, workflow_id)
        try:
            await handle.signal(ServerPoolWorkflow.configure, config)
        except RPCError:
            if config.size > 0:
                raise  # not found is fine only for a pool that should not run
