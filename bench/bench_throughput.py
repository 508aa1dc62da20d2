"""Throughput: 300 concurrent signups to active, in completed activities per second,
against a raw Temporal baseline of one-activity workflows on the same dev server.

The product: 300 `POST /v1/signups` at once, each paid on the hosted Checkout page as
soon as it has its URL, until all are active. Its activity count is read back from the
300 signup histories (ordinary activities and local ones, which are the database writes).
The baseline: 300 workflows of one no-op activity each, started at once on the same
Temporal, by a worker process with the product worker's settings. Aim: the product's
activity rate at least 0.7 of the baseline's, zero failed signups.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.report import Check, write_result
from bench.stack import DevStack, dev_stack
from bench.throughput_baseline import NoopWorkflow
from tenantry.clients.temporal import DATA_CONVERTER
from tests.support.checkout import pay

SIGNUPS = int(os.environ.get("BENCH_THROUGHPUT_SIGNUPS", "300"))
PAYERS = 16  # browsers paying at once
OVERRIDES = {
    "TENANTRY_PROVIDER_POLL_INTERVAL": "0.05",
    "TENANTRY_SIGNUP_RATE_LIMIT_PER_MINUTE": "100000",
    "TENANTRY_HEALTH_GATE_BUDGET": "600",
}
LOCAL_ACTIVITY_MARKER = "core_local_activity"
SETTLED = {"active", "failed", "expired", "rejected"}


def quiet_emulator(stack: DevStack) -> None:
    """No boot delay or action time, and a rate limit a 300-server burst stays under."""
    with stack.hetzner_admin() as admin:
        admin.post("/_admin/config", {"boot_delay": 0, "action_duration": 0, "rate_limit": 10**7})


async def start_and_pay(http: httpx.AsyncClient, payers: asyncio.Semaphore, subdomain: str) -> str:
    """Signs up and pays; returns "" or why it could not."""
    body = {"email": f"{subdomain}@example.com", "subdomain": subdomain, "tier": "starter"}
    response = await http.post("/v1/signups", json=body)
    while response.status_code == 503:  # checkout_pending: the same request joins it
        await asyncio.sleep(float(response.headers.get("Retry-After", "5")))
        response = await http.post("/v1/signups", json=body)
    if response.status_code != 202:
        return f"POST /v1/signups: {response.status_code} {response.text[:200]}"
    async with payers:
        paid = await asyncio.to_thread(pay, response.json()["checkout_url"])
    return f"payment: {paid.status_code}" if paid.status_code >= 400 else ""


async def all_signups(admin: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Every signup, page by page (100 a page, the API's maximum)."""
    params: dict[str, Any] = {"limit": 100}
    rows: list[dict[str, Any]] = []
    while True:
        page = (await admin.get("/v1/admin/signups", params=params)).json()
        rows += page["data"]
        if not page["has_more"]:
            return rows
        params["starting_after"] = page["data"][-1]["signup_id"]


async def wait_all_settled(
    admin: httpx.AsyncClient, subdomains: set[str], deadline: float
) -> dict[str, str]:
    """Watches the admin list once a second (not 300 pollers) until every signup ended."""
    final: dict[str, str] = {}
    while time.perf_counter() < deadline:
        listed = await all_signups(admin)
        final = {s["subdomain"]: s["status"] for s in listed if s["subdomain"] in subdomains}
        if len(final) == len(subdomains) and all(v in SETTLED for v in final.values()):
            break
        await asyncio.sleep(1.0)
    return final


async def product(stack: DevStack) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:5]
    subdomains = [f"tp{i}-{tag}" for i in range(SIGNUPS)]
    limits = httpx.Limits(max_connections=SIGNUPS)
    headers = {"Authorization": f"Bearer {stack.admin_token}"}
    async with (
        httpx.AsyncClient(base_url=stack.api_url, timeout=600, limits=limits) as http,
        httpx.AsyncClient(base_url=stack.api_url, timeout=60, headers=headers) as admin,
    ):
        payers = asyncio.Semaphore(PAYERS)
        began = time.perf_counter()
        problems = await asyncio.gather(*(start_and_pay(http, payers, s) for s in subdomains))
        final = await wait_all_settled(admin, set(subdomains), began + 1800)
        took = time.perf_counter() - began
    client = await Client.connect(stack.temporal_address, data_converter=DATA_CONVERTER)
    regular = local = 0
    for subdomain in subdomains:
        history = await client.get_workflow_handle(f"signup-{subdomain}").fetch_history()
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                regular += 1
            elif (
                event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
                and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
            ):
                local += 1
    failed = {
        s: problem or final.get(s, "not settled")
        for s, problem in zip(subdomains, problems, strict=True)
        if problem or final.get(s) != "active"
    }
    return {
        "signups": SIGNUPS,
        "seconds": round(took, 2),
        "signups_per_s": round(SIGNUPS / took, 2),
        "activities": regular + local,
        "activities_ordinary": regular,
        "activities_local": local,
        "activities_per_s": round((regular + local) / took, 2),
        "ordinary_activities_per_s": round(regular / took, 2),
        "failed": len(failed),
        "failures": dict(list(failed.items())[:10]),
    }


@contextlib.contextmanager
def baseline_worker(stack: DevStack) -> Iterator[str]:
    """A baseline worker process on a task queue of its own; yields the queue's name."""
    task_queue = f"bench-baseline-{uuid.uuid4().hex[:6]}"
    argv = [sys.executable, "-m", "bench.throughput_baseline", "worker"]
    worker = subprocess.Popen(
        [*argv, stack.temporal_address, task_queue],
        env={**os.environ, **stack.process_env("worker")},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        worker.stdout.readline()  # "baseline worker polling"
        yield task_queue
    finally:
        worker.terminate()
        worker.wait(30)


async def baseline(stack: DevStack, task_queue: str, count: int = SIGNUPS) -> dict[str, Any]:
    client = await Client.connect(stack.temporal_address, data_converter=DATA_CONVERTER)
    run = uuid.uuid4().hex[:6]
    began = time.perf_counter()
    handles = await asyncio.gather(
        *(
            client.start_workflow(
                NoopWorkflow.run, n, id=f"{task_queue}-{run}-{n}", task_queue=task_queue
            )
            for n in range(count)
        )
    )
    await asyncio.gather(*(h.result() for h in handles))
    took = time.perf_counter() - began
    return {
        "workflows": count,
        "seconds": round(took, 2),
        "activities": count,
        "activities_per_s": round(count / took, 2),
    }


def main() -> None:
    with dev_stack(OVERRIDES) as stack:
        quiet_emulator(stack)
        with baseline_worker(stack) as task_queue:
            asyncio.run(baseline(stack, task_queue, count=10))  # warm-up, as the worker is
            raw_first = asyncio.run(baseline(stack, task_queue))
            print(f"  baseline: {raw_first}", flush=True)
            ours = asyncio.run(product(stack))
            print(f"  product: { {k: v for k, v in ours.items() if k != 'failures'} }", flush=True)
            raw_after = asyncio.run(baseline(stack, task_queue))
            print(f"  baseline again: {raw_after}", flush=True)
    # The baseline ran before and after the product: the ratio is to their mean rate.
    raw_rate = (raw_first["activities_per_s"] + raw_after["activities_per_s"]) / 2
    write_result(
        "throughput",
        "throughput, 300 concurrent signups",
        figures={
            "product": ours,
            "baseline_before": raw_first,
            "baseline_after": raw_after,
            "settings": OVERRIDES,
        },
        checks=[
            Check("activity rate ratio", round(ours["activities_per_s"] / raw_rate, 2), 0.7, True),
            Check("failed signups", ours["failed"], 0),
        ],
        notes=(
            "Activities of the product are every activity a signup ran: ordinary ones "
            "(Stripe, Hetzner, Route53, health, mail) and local ones (its database records). "
            "The baseline ran before and after the product on the same dev server; the ratio "
            "is to the mean of both rates."
        ),
    )


if __name__ == "__main__":
    main()
