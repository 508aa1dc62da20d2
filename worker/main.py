"""`tenantry worker`: the process that runs every workflow and activity.

Sync SDK activities (hcloud, boto3, stripe) run in a thread pool so they never block the
event loop. SIGTERM or SIGINT starts a graceful shutdown: no new tasks are taken,
in-flight activities get `graceful_shutdown` to finish, and whatever does not finish is
retried by Temporal on another worker, so nothing is lost.

Observability: the SDK's Prometheus exporter (`temporal_*`) on `worker_metrics_address`,
the status server (product gauges, `/healthz`) on `worker_status_address`, traces over
OTLP when an endpoint is set, and logs as text or JSON (`TENANTRY_LOG_FORMAT`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from db.session import make_async_engine
from tenantry.clients.temporal import connect
from tenantry.observability.logs import configure_logging
from tenantry.observability.tracing import shutdown_tracing
from tenantry.settings import WorkerSettings
from worker.observability import HealthCheck, StatusServer
from worker.pools import ensure_pools
from worker.product_metrics import ProductMetrics
from worker.registry import build_activities, workflows
from worker.schedules import ensure_schedules

log = logging.getLogger("tenantry.worker")

SERVICE = "tenantry-worker"


def metrics_runtime(settings: WorkerSettings) -> Runtime | None:
    """A Temporal runtime whose core serves Prometheus metrics (one per process).

    None (the SDK's default runtime) when the address is empty, or taken: metrics are
    not worth a worker that does not run, so that is logged as an error instead.
    """
    if not settings.worker_metrics_address:
        return None
    prometheus = PrometheusConfig(bind_address=settings.worker_metrics_address)
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=prometheus))
    except ValueError as exc:  # the SDK's error for an address it cannot bind
        log.error("no Temporal metrics on %s: %s", settings.worker_metrics_address, exc)
        return None


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
    client = await connect(settings, runtime=metrics_runtime(settings), service=SERVICE)
    await ensure_schedules(
        client, settings.task_queue, health_sweep_every=settings.health_sweep_interval
    )
    await ensure_pools(client, settings)
    engine = make_async_engine(settings.database_url, pool_size=2, max_overflow=0)
    timeout = settings.worker_health_timeout
    with ThreadPoolExecutor(settings.activity_threads, thread_name_prefix="activity") as pool:
        worker = build_worker(client, settings, executor=pool)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        runner = asyncio.create_task(worker.run())
        status = StatusServer(
            settings.worker_status_address,
            ProductMetrics(engine, timeout=timeout.total_seconds()),
            HealthCheck(
                engine, client, lambda: worker.is_running and not runner.done(), timeout=timeout
            ),
        )
        if settings.worker_status_address:
            await status.start()
        log.info(
            "worker polling task queue %s at %s", settings.task_queue, settings.temporal_address
        )
        await stop.wait()
        log.info("shutting down: finishing in-flight activities")
        await status.close()
        await worker.shutdown()
        await runner
    await engine.dispose()
    shutdown_tracing(settings, SERVICE)


def run_worker() -> None:
    settings = WorkerSettings()
    configure_logging(settings.log_format)
    asyncio.run(_run(settings))
