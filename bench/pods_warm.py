"""Warm pod restores for `bench pods`: a hibernated pod started again from the copy its
host kept, against a raw ``docker start`` of the same stopped container and against a
cold restore (download) of the same 200 MB workspace.

Each round, on one product pod whose workspace holds the bench's 200 MB:

- hibernate (not timed here: the main rounds time it); the host keeps the stopped pod;
- raw: ``ssh host docker start <the kept container>`` (timed; a fresh OpenSSH connection
  as every baseline step), then ``docker stop`` (not timed), which leaves the kept copy
  as it was (the workspace image is not mounted by a bare start, so it is not written);
- warm: ``POST /restore`` until running (timed), proven warm by the restore activity's
  result in the workflow history (``restored_from: cache``);
- hibernate again, drop the kept copy with the product's own eviction (not timed), and
  ``POST /restore`` until running (timed): the cold restore, proven by ``restored_from: s3``.

The checks are ratios of medians: warm / raw start (aim 1.5) and warm / cold (aim 0.3).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import TYPE_CHECKING, Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from tenantry.clients.podhost import PodHostClient
from tenantry.clients.sdk import s3_client
from tenantry.contracts.common import pod_workflow_id
from tenantry.contracts.podhost import PodHostRef

if TYPE_CHECKING:
    from bench.bench_pods import Bench

WARM_AIMS = {"warm_vs_docker_start": 1.5, "warm_vs_cold": 0.3}


def evict(bench: Bench, pod_id: str) -> None:
    """Drops the pod's kept copy on its last host, as the cache budget's eviction does."""
    settings = bench.stack.settings()
    client = PodHostClient(
        ssh_key_path=settings.ssh_key_path,
        known_hosts=settings.ssh_known_hosts_path,
        s3=s3_client(settings),
        ssh_user=settings.pod_host_user,
        isolation=settings.pod_isolation,
    )

    async def drop() -> None:
        for host in bench.hosts.values():
            ref = PodHostRef(name=host.name, address=host.address, port=host.port)
            async with client.ssh.connect(ref) as conn:
                entries = await client.cache.entries(conn, ref)
                if any(e.record.pod_id == pod_id for e in entries):
                    await client.cache.drop(conn, ref, pod_id)

    asyncio.run(drop())


async def restore_sources(bench: Bench, pod_id: str) -> list[str | None]:
    """``restored_from`` of each of the pod's restores so far, from its history."""
    client = await Client.connect(bench.stack.temporal_address)
    restores: set[int] = set()
    found: list[str | None] = []
    async for event in client.get_workflow_handle(pod_workflow_id(pod_id)).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            if attrs.activity_type.name == "pod_restore_from_s3":
                restores.add(event.event_id)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            done = event.activity_task_completed_event_attributes
            if done.scheduled_event_id in restores:
                value = json.loads(done.result.payloads[0].data).get("restored_from")
                found.append(None if value is None else str(value))
    return found


def _last_source(bench: Bench, pod_id: str) -> str | None:
    sources = asyncio.run(restore_sources(bench, pod_id))
    return sources[-1] if sources else None


def warm_rounds(bench: Bench, rounds: int) -> dict[str, Any]:
    """Rounds of warm restore, raw docker start and cold restore of one 200 MB pod."""
    from bench.bench_pods import ProductPod, settle_disk

    pod = ProductPod(bench, 900)
    pod.create()
    bench.fill(pod)
    container = pod.container()
    warm: list[float] = []
    start: list[float] = []
    cold: list[float] = []
    for n in range(rounds):
        host = bench.hosts[str(bench.product.pod(pod.pod_id)["host"])]
        pod.hibernate()
        settle_disk()
        began = time.monotonic()
        bench.raw.ssh(host, f"docker start {container} >/dev/null")
        start.append(time.monotonic() - began)
        bench.raw.ssh(host, f"docker stop -t 10 {container} >/dev/null")
        settle_disk()
        warm.append(pod.restore())
        if _last_source(bench, pod.pod_id) != "cache":
            raise RuntimeError(f"warm round {n}: the restore did not start the kept copy")
        container = pod.container()
        pod.hibernate()
        evict(bench, pod.pod_id)
        settle_disk()
        cold.append(pod.restore())
        if _last_source(bench, pod.pod_id) != "s3":
            raise RuntimeError(f"warm round {n}: the cold restore did not download")
        container = pod.container()
        print(
            f"  warm round {n} start {start[-1]:.2f}s warm {warm[-1]:.2f}s cold {cold[-1]:.2f}s",
            flush=True,
        )
    medians = {
        k: statistics.median(v) for k, v in (("warm", warm), ("start", start), ("cold", cold))
    }
    return {
        "seconds": {
            "warm_restore": [round(s, 3) for s in warm],
            "raw_docker_start": [round(s, 3) for s in start],
            "cold_restore": [round(s, 3) for s in cold],
        },
        "medians_s": {k: round(v, 3) for k, v in medians.items()},
        "ratios_of_medians": {
            "warm_vs_docker_start": round(medians["warm"] / medians["start"], 3),
            "warm_vs_cold": round(medians["warm"] / medians["cold"], 3),
        },
    }
