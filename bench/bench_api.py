"""API latency at a fixed request rate: each product route against its fair baseline.

Issue #8, API: `GET /v1/pods/{id}` at a fixed rate for a fixed time, interleaved with
`GET /healthz` at the same rate on the same server (the uvicorn of a real `tenantry
dev`). `/healthz` returns a constant without touching the database or Temporal, so it is
what the server, its middleware and this client cost on their own; aim: p99 at most 3
times the trivial route's.

Issue #19, item 5: `POST /v1/signups` answers with the Checkout URL, so it cannot answer
before a Stripe customer and a Checkout session exist. Its baseline is those two calls
made by a script (`bench/checkout_baseline.py`) against the same Stripe emulator, at the
same rate, interleaved; aim: p99 at most 1.5 times the script's.

The load is open-loop: request i is due at ``start + i / rate`` whatever happened to
earlier ones, and its latency runs from that due time (not from when it was actually
sent), so a stalled server is charged for the requests it held up instead of the
client politely waiting (coordinated omission). One aiohttp session, keep-alive, no
connection limit; each pair of routes after a short warm-up that is not counted.

A signup's latency is what the product answers with: the API's update-with-start waits
until the signup workflow has recorded the signup and created the Stripe customer and
Checkout session (emulator), so it includes real workflow work. The signups stay
pending (nobody pays); the stack is thrown away afterwards.

    python -m bench api      (or python -m bench.bench_api)
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx

from bench.checkout_baseline import RawCheckout
from bench.report import Check, summary, write_result
from bench.stack import DevStack, dev_stack

# (requests per second, seconds measured) of each product route and of its trivial twin.
# Reads are light: 20/s. A signup costs ~0.1 s of CPU across the Temporal dev server, the
# worker, the Stripe emulator and the API, so this 2-core machine queues them from
# ~12/s on (at 20/s p50 was 2.5 s); past that, p99 says only how long the queue grew.
# BENCH_API_SECONDS shortens every measured window (the smoke test runs a few seconds).
SECONDS = float(os.environ.get("BENCH_API_SECONDS") or 60)
READ_LOAD = (20.0, SECONDS)
SIGNUP_LOAD = (8.0, SECONDS)
WARMUP = 3.0  # seconds at the same rate before each pair, not counted
REQUEST_TIMEOUT = 40.0  # above the API's own 30 s wait for a Checkout URL
DRAIN_TIMEOUT = 45.0  # after the last due time, how long stragglers may take
P99_RATIO_AIM = 3.0
SIGNUP_P99_RATIO_AIM = 1.5
TRIVIAL = "GET /healthz"
RAW_CHECKOUT = "raw Stripe customer + Checkout session"
POD_CONFIG = """
template: base
services:
  - name: http
    port: 8080
"""


@dataclass(frozen=True)
class Route:
    """One route under load: how to build request i (or, for a script's baseline, make it)."""

    label: str
    method: str
    path: Callable[[int], str]
    headers: dict[str, str] = field(default_factory=dict)
    body: Callable[[int], dict[str, Any]] | None = None
    # A baseline that is not an HTTP route: request i's status, made by this coroutine.
    call: Callable[[int], Awaitable[str]] | None = None


@dataclass
class Phase:
    """What one route answered during its measured window."""

    route: str
    rate: float
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, 2xx only
    statuses: Counter[str] = field(default_factory=Counter)
    send_lag: list[float] = field(default_factory=list)  # how late the client sent

    def figures(self) -> dict[str, Any]:
        errors = {k: v for k, v in sorted(self.statuses.items()) if not k.startswith("2")}
        return {
            "route": self.route,
            **(summary(self.latencies) if self.latencies else {"count": 0}),
            "requests": sum(self.statuses.values()),
            "errors": sum(errors.values()),
            "rate_per_s": self.rate,
            "duration_s": self.seconds,
            "statuses": dict(sorted(self.statuses.items())),
            "client_send_lag_max_ms": round(max(self.send_lag, default=0) * 1000, 2),
        }


async def one_request(
    http: aiohttp.ClientSession, route: Route, i: int, due: float, phase: Phase | None
) -> None:
    """Sends request i and charges its latency from its due time."""
    if phase is not None:
        phase.send_lag.append(time.perf_counter() - due)
    if route.call is not None:
        status = await route.call(i)
    else:
        status = await http_status(http, route, i)
    took = time.perf_counter() - due
    if phase is None:
        return
    phase.statuses[status] += 1
    if status.startswith("2"):
        phase.latencies.append(took)


async def http_status(http: aiohttp.ClientSession, route: Route, i: int) -> str:
    """Sends request i of an HTTP route; its status, or the client error's name."""
    try:
        async with http.request(
            route.method,
            route.path(i),
            headers=route.headers,
            json=route.body(i) if route.body else None,
        ) as response:
            await response.read()
            return str(response.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__


async def fixed_rate(
    http: aiohttp.ClientSession,
    route: Route,
    first: int,
    load: tuple[float, float],
    start: float,
    phase: Phase | None,
) -> None:
    """Fires requests first, first+1, ... at `load` (rate, seconds) from `start`.

    Each request is its own task, so a slow answer never delays the next send; it
    returns when every request has answered or DRAIN_TIMEOUT after the last was due.
    """
    rate, seconds = load
    tasks = []
    for n in range(round(seconds * rate)):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one_request(http, route, first + n, due, phase)))
    _, pending = await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT)
    for task in pending:
        task.cancel()
    if phase is not None and pending:
        phase.statuses["unfinished"] += len(pending)


async def interleaved(
    http: aiohttp.ClientSession,
    routes: tuple[Route, Route],
    first: int,
    load: tuple[float, float],
    phases: tuple[Phase, Phase] | None,
) -> int:
    """Both routes at `load`, the second half a period after the first; the next index.

    Interleaved, both see the same moments of this shared machine (other processes'
    bursts come and go within seconds), so the ratio compares routes, not moments.
    """
    start = time.perf_counter() + 0.05
    half = 0.5 / load[0]
    await asyncio.gather(
        *(
            fixed_rate(http, route, first, load, start + k * half, phases[k] if phases else None)
            for k, route in enumerate(routes)
        )
    )
    return first + round(load[0] * load[1])


async def measure(
    api_url: str, plan: list[tuple[Route, Route, tuple[float, float]]]
) -> list[tuple[Phase, Phase]]:
    """Each product route, interleaved with its baseline: a warm-up, then measured."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
    pairs = []
    first = 0
    async with aiohttp.ClientSession(api_url, timeout=timeout, connector=connector) as http:
        for base, route, (rate, seconds) in plan:
            print(f"bench api: {route.label} and {base.label} at {rate:g}/s for {seconds:g}s")
            first = await interleaved(http, (base, route), first, (rate, WARMUP), None)
            pair = (Phase(base.label, rate, seconds), Phase(route.label, rate, seconds))
            first = await interleaved(http, (base, route), first, (rate, seconds), pair)
            pairs.append(pair)
    return pairs


def running_pod(stack: DevStack, key: str, timeout: float = 180) -> str:
    """A pod of the account, created through the API and followed until it runs."""
    with httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as http:
        response = http.post(
            "/v1/pods", json={"name": "bench", "tier": "dev.small", "config": POD_CONFIG}
        )
        response.raise_for_status()
        pod_id = str(response.json()["pod_id"])
        deadline = time.monotonic() + timeout
        while (pod := http.get(f"/v1/pods/{pod_id}").json())["status"] != "running":
            if pod["status"] in ("failed", "destroyed") or time.monotonic() > deadline:
                raise RuntimeError(f"the benchmark's pod did not run: {pod}")
            time.sleep(0.2)
    return pod_id


def routes(pod_id: str, key: str, checkout: RawCheckout) -> tuple[Route, Route, Route, Route]:
    """The trivial route, the raw checkout calls and the two product routes.

    Signups get fresh subdomains; so do the baseline's customers, in the product's form.
    """
    run = uuid.uuid4().hex[:8]
    healthz = Route(TRIVIAL, "GET", lambda i: "/healthz")
    raw = Route(RAW_CHECKOUT, "", lambda i: "", call=lambda i: checkout.status(run, i))
    pod = Route(
        "GET /v1/pods/{id}",
        "GET",
        lambda i: f"/v1/pods/{pod_id}",
        headers={"Authorization": f"Bearer {key}"},
    )
    signup = Route(
        "POST /v1/signups",
        "POST",
        lambda i: "/v1/signups",
        body=lambda i: {
            "email": f"bench-{run}-{i}@example.com",
            "subdomain": f"b{run}-{i}",
            "tier": "starter",
        },
    )
    return healthz, raw, pod, signup


def ratio_check(base: Phase, product: Phase) -> Check:
    """The product route's p99 over its baseline's, measured interleaved with it."""
    ratio = (
        product.figures()["p99_ms"] / base.figures()["p99_ms"]
        if product.latencies and base.latencies
        else float("inf")
    )
    name = f"{product.route} p99 / {base.route} p99 at {product.rate:g}/s"
    aim = P99_RATIO_AIM if base.route == TRIVIAL else SIGNUP_P99_RATIO_AIM
    return Check(name, round(ratio, 2), aim)


def report(pairs: list[tuple[Phase, Phase]]) -> None:
    """Writes bench/results/api.json: per-route figures, the p99 ratios, the errors."""
    phases = [phase for pair in pairs for phase in pair]
    errors = sum(p.figures()["errors"] for p in phases)
    write_result(
        "api",
        "API p99 at a fixed rate",
        figures={
            "warmup_s": WARMUP,
            "pairs": [
                {
                    "baseline": base.figures(),
                    "product": product.figures(),
                }
                for base, product in pairs
            ],
        },
        checks=[*(ratio_check(*pair) for pair in pairs), Check("non-2xx responses", errors, 0)],
        notes=(
            "Open-loop load (aiohttp, one session, keep-alive), latency from each "
            "request's due time, 2xx only (others counted under statuses). On one "
            "tenantry dev, each product route interleaved with its baseline at the same "
            "rate for the same time (half a period apart), so both see the same load. "
            "GET /v1/pods/{id} (one running pod, an account key) against GET /healthz, the "
            "trivial route: a constant answer, no database, no Temporal, through the same "
            "middleware. POST /v1/signups answers with the Checkout URL, so it waits, as "
            "it must, until the signup workflow has recorded the signup and created the "
            "Stripe customer and Checkout session (emulator), every one a new subdomain; "
            "its baseline is those two Stripe calls with the same parameters, made by a "
            "script (bench/checkout_baseline.py, the worker's Stripe client in a thread) "
            "against the same emulator. Its rate is lower because a signup costs ~0.1 s "
            "of CPU across the Temporal dev server, the worker, the Stripe emulator and "
            "the API, so on this 2-core machine they queue from ~12/s on."
        ),
    )


def main() -> None:
    overrides = {"TENANTRY_SIGNUP_RATE_LIMIT_PER_MINUTE": "1000000"}
    with dev_stack(overrides=overrides) as stack:
        _, key = stack.new_account(f"bench-api-{uuid.uuid4().hex[:8]}@example.com")
        pod_id = running_pod(stack, key)
        healthz, raw, pod, signup = routes(pod_id, key, RawCheckout(stack.settings()))
        pairs = asyncio.run(
            measure(stack.api_url, [(healthz, pod, READ_LOAD), (raw, signup, SIGNUP_LOAD)])
        )
    report(pairs)


if __name__ == "__main__":
    main()
