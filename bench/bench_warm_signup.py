"""Signup to active with realistic server latency: a warm pool server against a cold create.

The Hetzner emulator runs with Hetzner's real delays (`server_latency`: 45 s from create
to running, 20 s more until cloud-init is done and the stack answers healthy). The
`starter` tier has a warm pool of `POOL_SIZE` servers; the `pro` tier has none, so its
signups create their server cold, exactly as without a pool (both tiers get the same
latency, so the two differ only in the pool). Rounds interleave one warm and one cold
signup; the pool refills during the cold one, and the bench waits until it is full
again before the next round, recording how long each refill took after its claim.

Aims: warm p50 at most 0.2x cold p50, warm p50 under 10 s, and the pool refilled after
every claim. Each signup is measured as `bench_signup` does: `POST /v1/signups`, paying
on the hosted Checkout page, then polling the signup until it is active.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import httpx

from bench.report import Check, summary, write_result
from bench.stack import DevStack, dev_stack
from tests.support.checkout import pay

ROUNDS = int(os.environ.get("BENCH_WARM_SIGNUP_ROUNDS", "3"))
RUNNING_S = float(os.environ.get("BENCH_WARM_SIGNUP_RUNNING", "45"))
HEALTHY_S = float(os.environ.get("BENCH_WARM_SIGNUP_HEALTHY", "20"))
POOL_SIZE = 1
WARM_TIER, COLD_TIER = "starter", "pro"
POLL = 0.02
OVERRIDES = {
    "TENANTRY_SIGNUP_RATE_LIMIT_PER_MINUTE": "100000",
    "TENANTRY_PROVIDER_POLL_INTERVAL": "0.25",
    "TENANTRY_SERVER_POOL_SIZES": json.dumps({f"{WARM_TIER}/fsn1": POOL_SIZE}),
    "TENANTRY_SERVER_POOL_CHECK": "2",
}


def realistic_latency(stack: DevStack) -> None:
    with stack.hetzner_admin() as admin:
        admin.post(
            "/_admin/config",
            {
                "boot_delay": 0,
                "action_duration": 0,
                "server_latency": {"*": {"running": RUNNING_S, "healthy": HEALTHY_S}},
            },
        )


def pool_ready(stack: DevStack) -> int:
    with stack.admin() as admin:
        response = admin.get("/v1/admin/pool")
        response.raise_for_status()
    pools = [p for p in response.json()["pools"] if p["tier"] == WARM_TIER]
    return int(pools[0]["ready"]) if pools else 0


def wait_pool_full(stack: DevStack, timeout: float, since: float | None = None) -> float:
    """Seconds from ``since`` (default now) until the pool holds POOL_SIZE ready servers."""
    began = time.perf_counter()
    while pool_ready(stack) < POOL_SIZE:
        if time.perf_counter() - began > timeout:
            raise RuntimeError(f"the pool was not refilled within {timeout:.0f}s")
        time.sleep(0.25)
    return time.perf_counter() - (began if since is None else since)


def signup(http: httpx.Client, subdomain: str, tier: str) -> float:
    """One signup through the API until it is active; the seconds it took."""
    began = time.perf_counter()
    body = {"email": f"{subdomain}@example.com", "subdomain": subdomain, "tier": tier}
    response = http.post("/v1/signups", json=body)
    response.raise_for_status()
    created = response.json()
    paid = pay(created["checkout_url"])
    if paid.status_code >= 400:
        raise RuntimeError(f"payment failed: {paid.status_code} {paid.text[:200]}")
    deadline = began + RUNNING_S + HEALTHY_S + 120
    while True:
        status = http.get(
            f"/v1/signups/{created['signup_id']}", params={"status_token": created["status_token"]}
        ).json()
        if status["status"] == "active":
            return time.perf_counter() - began
        if status["status"] in ("failed", "expired", "rejected") or time.perf_counter() > deadline:
            raise RuntimeError(f"signup {subdomain} ended {status}")
        time.sleep(POLL)


def main() -> None:
    budget = RUNNING_S + HEALTHY_S + 60
    warm: list[float] = []
    cold: list[float] = []
    refills: list[float] = []
    with dev_stack(OVERRIDES) as stack:
        realistic_latency(stack)
        with httpx.Client(base_url=stack.api_url, timeout=60) as http:
            # The first pool server may have been created before the latency was set;
            # refills after each claim pay the full latency.
            wait_pool_full(stack, budget)
            for i in range(ROUNDS):
                tag = uuid.uuid4().hex[:6]
                warm.append(signup(http, f"w{i}-{tag}", WARM_TIER))
                claimed_at = time.perf_counter()
                cold.append(signup(http, f"c{i}-{tag}", COLD_TIER))
                refills.append(wait_pool_full(stack, budget, since=claimed_at))
                print(
                    f"  round {i}: warm {warm[-1]:.2f}s cold {cold[-1]:.2f}s "
                    f"pool refilled {refills[-1]:.1f}s after the claim",
                    flush=True,
                )
            with stack.admin() as admin:
                pool = admin.get("/v1/admin/pool").json()["pools"]
    w, c = summary(warm), summary(cold)
    claims = next(p["claims"] for p in pool if p["tier"] == WARM_TIER)
    write_result(
        "warm_signup",
        "signup to active, warm pool vs cold (45 s + 20 s server latency)",
        figures={
            "rounds": ROUNDS,
            "server_latency_s": {"running": RUNNING_S, "healthy": HEALTHY_S},
            "pool_size": POOL_SIZE,
            "warm": w,
            "cold": c,
            "warm_s": [round(x, 3) for x in warm],
            "cold_s": [round(x, 3) for x in cold],
            "refill_after_claim_s": [round(x, 1) for x in refills],
            "refill_after_claim_p50_s": round(summary(refills)["p50_ms"] / 1000, 1),
            "claims": claims,
            "settings": OVERRIDES,
        },
        checks=[
            Check("warm p50 / cold p50", round(w["p50_ms"] / c["p50_ms"], 3), 0.2),
            Check("warm p50", round(w["p50_ms"] / 1000, 2), 10, unit=" s"),
            Check("pool refilled after each claim", len(refills), ROUNDS, at_least=True),
        ],
        notes=(
            f"Hetzner emulator with {RUNNING_S:g} s create->running and {HEALTHY_S:g} s "
            "running->healthy for every server type; warm signups (starter) claim from a "
            f"pool of {POOL_SIZE}, cold ones (pro, no pool) create their server. Rounds "
            "interleave warm and cold; the pool refills during the cold one "
            "(refill_after_claim_s: from a warm signup's end until the pool is full again)."
        ),
    )


if __name__ == "__main__":
    main()
