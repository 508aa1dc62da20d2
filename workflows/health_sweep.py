"""HealthSweepWorkflow: every tenant's `GET /health`, and pod hosts that went quiet.

Started by the `health-sweep` schedule (every `HEALTH_SWEEP_INTERVAL`) and by
`POST /v1/admin/health/sweep`. Tenants with a server (active and suspended) are checked
in pages; each finding is kept in `tenant_health` (a suspended tenant is down on purpose:
`expected` false), an unexpectedly unhealthy tenant is logged by the worker, and nobody
is mailed. The result, visible in the Temporal UI, counts them and names the first
hundred unhealthy subdomains and every active pod host whose heartbeat is stale.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.health_sweep import HealthSweepActivities
    from tenantry.contracts.rollout import HealthSweepInput, HealthSweepPageInput, HealthSweepResult

from workflows.policies import QUICK, SWEEP_RETRY

NAMES_KEPT = 100


@workflow.defn
class HealthSweepWorkflow:
    @workflow.run
    async def run(self, inp: HealthSweepInput) -> HealthSweepResult:
        result = HealthSweepResult()
        after: str | None = None
        while True:
            page = await workflow.execute_activity_method(
                HealthSweepActivities.health_sweep_page,
                HealthSweepPageInput(
                    after_tenant_id=after,
                    limit=inp.page_size,
                    concurrency=inp.concurrency,
                    timeout_seconds=inp.timeout_seconds,
                ),
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=SWEEP_RETRY,
            )
            result.checked += page.checked
            result.healthy += page.healthy
            result.unhealthy_count += len(page.unhealthy)
            result.unhealthy.extend(page.unhealthy[: NAMES_KEPT - len(result.unhealthy)])
            after = page.next_after
            if after is None:
                break
        stale = await workflow.execute_activity_method(
            HealthSweepActivities.health_stale_hosts,
            start_to_close_timeout=QUICK,
            retry_policy=SWEEP_RETRY,
        )
        result.stale_hosts = stale.names
        return result
