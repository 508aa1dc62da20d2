"""The raw Temporal baseline of the throughput benchmark: workflows of one no-op activity.

``python -m bench.throughput_baseline worker ADDRESS TASK_QUEUE`` runs a worker process
with the product worker's own settings (concurrent activities, its activity thread pool,
the same data converter), so that the only difference left is the work itself.
"""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from tenantry.clients.temporal import DATA_CONVERTER
    from tenantry.settings import WorkerSettings


@activity.defn
async def noop(n: int) -> int:
    return n


@workflow.defn
class NoopWorkflow:
    @workflow.run
    async def run(self, n: int) -> int:
        return await workflow.execute_activity(
            noop, n, start_to_close_timeout=timedelta(seconds=30)
        )


async def run_worker(address: str, task_queue: str) -> None:
    settings = WorkerSettings(env="dev")
    client = await Client.connect(address, data_converter=DATA_CONVERTER)
    with ThreadPoolExecutor(settings.activity_threads) as pool:
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=[NoopWorkflow],
            activities=[noop],
            activity_executor=pool,
            max_concurrent_activities=settings.max_concurrent_activities,
        )
        print("baseline worker polling", flush=True)
        await worker.run()


if __name__ == "__main__":
    asyncio.run(run_worker(sys.argv[2], sys.argv[3]))
