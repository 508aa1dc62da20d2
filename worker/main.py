"""`tenantry worker`: the process that runs every workflow and activity.

Sync SDK activities (hcloud, boto3, stripe) run in a thread pool so they never block the
event loop. SIGTERM or SIGINT starts a graceful shutdown: no new tasks are taken,
in-flight activities get `graceful_shutdown` to finish, and whatever does not finish is
retried by Temporal on another worker, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from tenantry.clients.temporal import connect
from tenantry.settings import WorkerSettings
from worker.registry import build_activities, workflows
from worker.schedules import ensure_schedules

log = logging.getLogger("tenantry.worker")


def build_worker(
    client: Client,
    settings: WorkerSettings,
    *,
    task_queue: str | None = None,
    executor: ThreadPoolExecutor,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=workflows(),
        activities=build_activities(settings, client),
        activity_executor=executor,
        max_concurrent_activities=settings.max_concurrent_activities,
        graceful_shutdown_timeout=settings.graceful_shutdown,
    )


async def _run(settings: WorkerSettings) -> None:
    client = await connect(settings)
    await ensure_schedules(
        client, settings.task_queue, health_sweep_every=settings.health_sweep_interval
    )
    with ThreadPoolExecutor(settings.activity_threads, thread_name_prefix="activity") as pool:
        worker = build_worker(client, settings, executor=pool)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        runner = asyncio.create_task(worker.run())
        log.info(
            "worker polling task queue %s at %s", settings.task_queue, settings.temporal_address
        )
        await stop.wait()
        log.info("shutting down: finishing in-flight activities")
        await worker.shutdown()
        await runner


def run_worker() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_run(WorkerSettings()))
