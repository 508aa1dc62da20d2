"""Issue #8: the worker's memory with 10,000 idle `PodWorkflow`s open. Aim: under 1 GiB RSS.

10,000 real containers do not fit on this machine, so the pods are hibernated ones: a
hibernated pod has no container (its workspace is a snapshot in S3) and its workflow
waits, with no timer, for a restore or a destroy. That is the state `PodWorkflow`
carries across continue-as-new (`PodInput` with `status=hibernated` and its snapshots),
so each workflow is started with exactly that input: the `PodInput` the API builds for
a pod of the documented example config, plus the carried state of that pod after its
first hibernation. The database agrees (pods `hibernated`, their events and `ready`
snapshot rows), so the API shows them as it would. The snapshots' objects are not in
S3: nothing restores them here, and every workflow is terminated at the end.

RSS is VmRSS of the `tenantry worker` process and its descendants (if any), read from
/proc: before any pod, while they start, and over a minute after they settled (every
workflow's first task done). The Temporal SDK's workflow cache (`max_cached_workflows`,
the worker does not set it) is what bounds it: evicted workflows hold no memory in the
worker and are replayed from history when they next get a task.

    python -m bench worker_memory
    BENCH_WORKER_MEMORY_PODS=100 BENCH_WORKER_MEMORY_SECONDS=4 python -m bench.bench_worker_memory
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import make_url
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.worker import Worker

from bench.report import Check, write_result
from bench.stack import DevStack, dev_stack
from tenantry.clients.temporal import connect
from tenantry.contracts.common import (
    HEALTH_SWEEP_SCHEDULE_ID,
    METERING_SCHEDULE_ID,
    SA_ACCOUNT_ID,
    SA_POD_ID,
    SA_STAGE,
    pod_workflow_id,
)
from tenantry.contracts.pod import PodInput, PodSnapshotRecord, PodStatus
from tenantry.contracts.podhost import PodSpec, SnapshotRef
from tenantry.rules.plans import PodTier
from tenantry.rules.pod_config import PodConfig, parse_pod_config
from tenantry.settings import WorkerSettings
from workflows.pod import PodWorkflow

PODS = int(os.environ.get("BENCH_WORKER_MEMORY_PODS", "10000"))  # smaller: smoke test
PODS_PER_ACCOUNT = 10
START_CONCURRENCY = 64
SETTLE_SAMPLE = 200  # the last workflows started: once they have run, the queue is drained
SETTLE_TIMEOUT = 900.0
QUIET_SECONDS = 15.0  # after settling, before the measured minute
MEASURE_SECONDS = float(os.environ.get("BENCH_WORKER_MEMORY_SECONDS", "60"))
SAMPLE_EVERY = 2.0
VISIBILITY_WAIT = 60  # seconds for the visibility store to show the terminations
LIMIT_MIB = 1024.0
SNAPSHOT_BYTES = 48_000_000
# The example config of tenantry/rules/pod_config.py (secrets aside: they never reach workflows).
POD_CONFIG = {
    "template": "base",
    "services": [{"name": "http", "port": 8080}],
    "env": {"LOG_LEVEL": "debug"},
    "idle_timeout": "30m",
}


# -- RSS ---------------------------------------------------------------------------------
def status_kib(pid: int, key: str) -> int:
    """A `/proc/<pid>/status` figure in KiB (VmRSS, VmHWM); 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return 0


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (the worker starts none today; counted if it did)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except FileNotFoundError:
                continue
    return found


def rss_mib(pid: int) -> float:
    return round(sum(status_kib(p, "VmRSS") for p in descendants(pid)) / 1024, 1)


@dataclass
class RssSampler:
    """Samples the worker's RSS in a thread, each sample tagged with the phase it fell in."""

    pid: int
    began: float = field(default_factory=time.monotonic)
    phase: str = "before"
    samples: list[tuple[float, str, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.is_set():
            at = round(time.monotonic() - self.began, 1)
            self.samples.append((at, self.phase, rss_mib(self.pid)))
            self._stop.wait(SAMPLE_EVERY)

    def stop(self) -> None:
        self._stop.set()

    def of(self, phase: str) -> list[float]:
        return [rss for _, p, rss in self.samples if p == phase]


# -- the pods ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Pod:
    pod_id: uuid.UUID
    account_id: uuid.UUID
    name: str
    snapshot_id: uuid.UUID
    key: str
    sha256: str


def plan_pods(count: int) -> list[Pod]:
    pods = []
    account = uuid.uuid4()
    for i in range(count):
        if i % PODS_PER_ACCOUNT == 0:
            account = uuid.uuid4()
        pod_id, snapshot_id = uuid.uuid4(), uuid.uuid4()
        key = f"pods/{account}/{pod_id}/{snapshot_id}.tar.zst"
        digest = hashlib.sha256(key.encode()).hexdigest()
        pods.append(Pod(pod_id, account, f"dev{i % PODS_PER_ACCOUNT}", snapshot_id, key, digest))
    return pods


def raw_dsn(settings: WorkerSettings) -> str:
    return (
        make_url(settings.database_url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def seed(settings: WorkerSettings, pods: list[Pod], config: PodConfig) -> float:
    """Accounts, hibernated pods, their events and ready snapshots, by COPY."""
    began = time.monotonic()
    created = datetime.now(UTC) - timedelta(days=2)
    hibernated = created + timedelta(hours=3)
    tier = (config.tier or PodTier.SMALL).value
    accounts = sorted({p.account_id for p in pods})
    with psycopg.connect(raw_dsn(settings)) as conn, conn.cursor() as cur:
        with cur.copy("COPY accounts (id, email) FROM STDIN") as copy:
            for n, account in enumerate(accounts):
                copy.write_row((account, f"mem{n}@bench.example"))
        with cur.copy(
            "COPY pods (id, account_id, name, tier, status, config, idle_timeout_seconds,"
            " status_reason) FROM STDIN"
        ) as copy:
            public = Jsonb({"pod": config.public()})
            for p in pods:
                pod_row = (p.pod_id, p.account_id, p.name, tier, "hibernated", public)
                copy.write_row((*pod_row, config.idle_timeout, "idle"))
        with cur.copy("COPY pod_events (pod_id, kind, tier, at, idempotency_key) FROM STDIN") as c:
            for p in pods:
                for seq, (kind, at) in enumerate(
                    [
                        ("creating", created),
                        ("running", created + timedelta(seconds=20)),
                        ("hibernating", hibernated),
                        ("hibernated", hibernated + timedelta(seconds=30)),
                    ],
                    start=1,
                ):
                    c.write_row((p.pod_id, kind, tier, at, f"pod-{p.pod_id}:{seq}:{kind}"))
        with cur.copy(
            "COPY snapshots (id, pod_id, s3_key, size_bytes, sha256, status, completed_at)"
            " FROM STDIN"
        ) as copy:
            for p in pods:
                stored = hibernated + timedelta(seconds=25)
                row = (p.snapshot_id, p.pod_id, p.key, SNAPSHOT_BYTES, p.sha256, "ready")
                copy.write_row((*row, stored))
        conn.commit()
    return round(time.monotonic() - began, 2)


def pod_input(settings: WorkerSettings, pod: Pod, config: PodConfig) -> PodInput:
    """What `POST /v1/pods` starts the workflow with, carried on to after a hibernation."""
    tier = config.tier or PodTier.SMALL
    spec = PodSpec(
        pod_id=str(pod.pod_id),
        account_id=str(pod.account_id),
        tier=tier,
        image=config.resolved_image,
        services=list(config.services),
        env=dict(config.env),
    )
    taken = datetime.now(UTC) - timedelta(days=2) + timedelta(hours=3)
    return PodInput(
        pod_id=str(pod.pod_id),
        account_id=str(pod.account_id),
        name=pod.name,
        spec=spec,
        bucket=settings.s3_bucket,
        snapshots_to_keep=settings.pod_snapshots_to_keep,
        idle_timeout_seconds=config.idle_timeout,
        heartbeat_seconds=settings.pod_step_heartbeat.total_seconds(),
        # carried state: created (1), running (2), hibernating (3), hibernated (4)
        status=PodStatus.HIBERNATED,
        event_seq=4,
        snapshots=[
            PodSnapshotRecord(
                snapshot_id=str(pod.snapshot_id),
                ref=SnapshotRef(
                    bucket=settings.s3_bucket, key=pod.key, sha256=pod.sha256, size=SNAPSHOT_BYTES
                ),
                taken_at=taken,
            )
        ],
        last_activity=taken - timedelta(minutes=30),
        last_activity_source="created",
    )


async def start_pods(
    client: Client, settings: WorkerSettings, pods: list[Pod], config: PodConfig
) -> float:
    """Starts every pod's workflow as the API does (id, conflict policy, search attributes)."""
    gate = asyncio.Semaphore(START_CONCURRENCY)
    began = time.monotonic()

    async def one(pod: Pod) -> None:
        async with gate:
            await client.start_workflow(
                PodWorkflow.run,
                pod_input(settings, pod, config),
                id=pod_workflow_id(str(pod.pod_id)),
                task_queue=settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(SA_POD_ID, str(pod.pod_id)),
                        SearchAttributePair(SA_ACCOUNT_ID, str(pod.account_id)),
                        SearchAttributePair(SA_STAGE, PodStatus.HIBERNATED.value),
                    ]
                ),
            )

    await asyncio.gather(*(one(p) for p in pods))
    return round(time.monotonic() - began, 1)


async def first_task_done(client: Client, pod: Pod) -> bool:
    history = await client.get_workflow_handle(pod_workflow_id(str(pod.pod_id))).fetch_history()
    return any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for e in history.events)


async def settle(client: Client, pods: list[Pod]) -> float:
    """Waits until the last workflows started have run their first task (and so, the
    task queue being FIFO, all before them): then every pod's workflow is idle."""
    began = time.monotonic()
    sample = pods[-SETTLE_SAMPLE:]  # all of them when there are fewer
    while time.monotonic() - began < SETTLE_TIMEOUT:
        done = await asyncio.gather(*(first_task_done(client, p) for p in sample))
        if all(done):
            return round(time.monotonic() - began, 1)
        await asyncio.sleep(2)
    raise RuntimeError("the pod workflows did not settle")


async def open_pods(client: Client) -> int:
    query = "WorkflowType='PodWorkflow' AND ExecutionStatus='Running'"
    return (await client.count_workflows(query)).count


async def none_left_open(client: Client) -> int:
    """Open pod workflows once visibility has caught up with the terminations (0 expected)."""
    left = await open_pods(client)
    for _ in range(VISIBILITY_WAIT):
        if not left:
            break
        await asyncio.sleep(1)
        left = await open_pods(client)
    return left


async def idle_check(client: Client, pods: list[Pod]) -> dict[str, Any]:
    """A sample of histories after the measurement: each holds one workflow task and no
    activity or timer, i.e. the workflows really were idle."""
    sample = pods[:: max(1, len(pods) // 50)]
    lengths, done, activities, timers = [], 0, 0, 0
    for pod in sample:
        history = await client.get_workflow_handle(pod_workflow_id(str(pod.pod_id))).fetch_history()
        lengths.append(len(history.events))
        kinds = {e.event_type for e in history.events}
        done += EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED in kinds
        activities += EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED in kinds
        timers += EventType.EVENT_TYPE_TIMER_STARTED in kinds
    return {
        "sampled": len(sample),
        "first_task_done": done,
        "history_events_max": max(lengths),
        "with_activities": activities,
        "with_timers": timers,
    }


async def terminate_all(client: Client, pods: list[Pod]) -> float:
    gate = asyncio.Semaphore(START_CONCURRENCY)
    began = time.monotonic()

    async def one(pod: Pod) -> None:
        async with gate:
            handle = client.get_workflow_handle(pod_workflow_id(str(pod.pod_id)))
            await handle.terminate(reason="bench_worker_memory: done")

    await asyncio.gather(*(one(p) for p in pods))
    return round(time.monotonic() - began, 1)


async def pause_schedules(client: Client) -> None:
    """Metering and the health sweep would run beside the measurement: paused."""
    for schedule_id in (METERING_SCHEDULE_ID, HEALTH_SWEEP_SCHEDULE_ID):
        await client.get_schedule_handle(schedule_id).pause(note="bench_worker_memory")


def cache_settings() -> dict[str, Any]:
    """The SDK's defaults the worker runs with (worker/main.py sets none of these)."""
    params = inspect.signature(Worker.__init__).parameters
    names = [
        "max_cached_workflows",
        "max_concurrent_workflow_tasks",
        "nonsticky_to_sticky_poll_ratio",
        "sticky_queue_schedule_to_start_timeout",
    ]
    return {name: str(params[name].default) for name in names if name in params}


def cached_estimate(before: float, idle: float, pods: int) -> dict[str, float]:
    """An estimate, not a measurement: the growth spread over the workflows the cache can
    hold, and the cache size at which the worker would reach the aim at that rate."""
    cached = min(pods, int(cache_settings()["max_cached_workflows"]))
    per_mib = (idle - before) / cached
    return {
        "per_cached_workflow_kib": round(per_mib * 1024, 1),
        "max_cached_workflows_within_aim": int((LIMIT_MIB - before) / per_mib) if per_mib else 0,
    }


# -- the benchmark -----------------------------------------------------------------------
async def measure(stack: DevStack) -> dict[str, Any]:
    settings = stack.settings()
    client = await connect(settings)  # the API's client: its data converter, namespace
    await pause_schedules(client)
    config = parse_pod_config(POD_CONFIG)
    pods = plan_pods(PODS)
    seed_s = seed(settings, pods, config)
    sampler = RssSampler(stack.pid("worker"))
    sampler.start()
    await asyncio.sleep(10)
    sampler.phase = "starting"
    start_s = await start_pods(client, settings, pods, config)
    print(f"  started {len(pods)} pod workflows in {start_s}s", flush=True)
    sampler.phase = "settling"
    settle_s = await settle(client, pods)
    sampler.phase = "quiet"
    await asyncio.sleep(min(QUIET_SECONDS, MEASURE_SECONDS))
    sampler.phase = "idle"
    await asyncio.sleep(MEASURE_SECONDS)
    sampler.phase = "after"
    open_count = await open_pods(client)
    idle = await idle_check(client, pods)
    hwm = round(status_kib(stack.pid("worker"), "VmHWM") / 1024, 1)
    terminate_s = await terminate_all(client, pods)
    left = await none_left_open(client)
    sampler.stop()
    rss_before, rss_idle = sampler.of("before"), sampler.of("idle")
    return {
        "pods": len(pods),
        "seed_seconds": seed_s,
        "start_seconds": start_s,
        "starts_per_second": round(len(pods) / start_s, 1),
        "settle_seconds_after_start": settle_s,
        "open_pod_workflows_while_measured": open_count,
        "idle_check": idle,
        "rss_mib": {
            "before": max(rss_before),
            "while_starting_max": max(sampler.of("starting") + sampler.of("settling")),
            "idle_min": min(rss_idle),
            "idle_max": max(rss_idle),
            "idle_last": rss_idle[-1],
            "peak_vmhwm": hwm,
        },
        "rss_samples": [{"t": t, "phase": p, "rss_mib": r} for t, p, r in sampler.samples],
        "worker_cache": cache_settings(),
        "cached_workflow_estimate": cached_estimate(max(rss_before), max(rss_idle), len(pods)),
        "worker_processes": len(descendants(stack.pid("worker"))),
        "terminate_seconds": terminate_s,
        "pod_workflows_left_open": left,
    }


def main() -> None:
    overrides = {"TENANTRY_HEALTH_SWEEP_INTERVAL": "3600"}
    skip = "docker,podhosts,hostagents,caddy,edge-agent"
    with dev_stack(overrides=overrides, skip=skip) as stack:
        figures = asyncio.run(measure(stack))
    rss = figures["rss_mib"]
    write_result(
        "worker_memory",
        f"Worker memory with {PODS:,} idle PodWorkflows",
        figures=figures,
        checks=[
            Check(
                f"worker RSS, {PODS:,} idle PodWorkflows", rss["idle_max"], LIMIT_MIB, unit=" MiB"
            )
        ],
        notes=NOTES,
    )


NOTES = (
    "Pods are hibernated ones: no container exists on any host, and a hibernated "
    "PodWorkflow waits, with no timer or activity, for restore or destroy. Each workflow is "
    "started through the Temporal client with the PodInput POST /v1/pods builds for the "
    "example pod config (the same id, conflict policy and search attributes), carrying the "
    "state PodWorkflow passes across continue-as-new after a first hibernation (status "
    "hibernated, event 4, one ready snapshot); the database holds the matching pods, events "
    "and snapshot rows. The metering and health-sweep schedules are paused so nothing else "
    "runs in the worker. RSS is VmRSS of the worker process and its descendants, sampled "
    "every 2 s: before any pod, while starting, and for a minute after the last workflows "
    "started had run their first task (plus 15 s). The worker sets no cache options, so the "
    "SDK's defaults bound it (worker_cache): at most max_cached_workflows workflows stay in "
    "memory, the rest are evicted after their first task and replayed from history when "
    "they next get one (a restore or destroy); cached_workflow_estimate spreads the growth "
    "over the cached workflows (an estimate). All 10,000 are terminated at the end."
)


if __name__ == "__main__":
    main()
