"""Signup to active, end to end, against the same calls made by a plain script.

The product: `POST /v1/signups`, payment on the hosted Checkout page, the verified
webhook, provisioning by the worker, until `GET /v1/signups/{id}` says active (polled
every 20 ms). The baseline (`bench/signup_baseline.py`): the same Stripe, Hetzner,
Route53, health, SSH and SMTP calls in sequence. Both run on one `tenantry dev` with the
emulator's boot delay and action time at zero, interleaved, so noise hits both alike.
Aim: p50 ratio at most 1.5.
"""

from __future__ import annotations

import os
import time
import uuid

import httpx

from bench.report import Check, summary, write_result
from bench.signup_baseline import RawSignup
from bench.stack import DevStack, dev_stack
from tests.support.checkout import pay

ROUNDS = int(os.environ.get("BENCH_SIGNUP_ROUNDS", "12"))
WARMUP = 2
POLL = 0.02
# Both sides poll providers at the same pace: the worker through this setting, the
# baseline by reading it from the worker's settings.
OVERRIDES = {
    "TENANTRY_PROVIDER_POLL_INTERVAL": "0.05",
    "TENANTRY_SIGNUP_RATE_LIMIT_PER_MINUTE": "100000",
}


def zero_latency(stack: DevStack) -> None:
    with stack.hetzner_admin() as admin:
        admin.post("/_admin/config", {"boot_delay": 0, "action_duration": 0})


def product_signup(http: httpx.Client, subdomain: str) -> float:
    """One signup through the API until it is active; the seconds it took."""
    began = time.perf_counter()
    response = http.post(
        "/v1/signups",
        json={"email": f"{subdomain}@example.com", "subdomain": subdomain, "tier": "starter"},
    )
    response.raise_for_status()
    created = response.json()
    paid = pay(created["checkout_url"])
    if paid.status_code >= 400:
        raise RuntimeError(f"payment failed: {paid.status_code} {paid.text[:200]}")
    deadline = began + 120
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
    with dev_stack(OVERRIDES) as stack:
        zero_latency(stack)
        product: list[float] = []
        raw: list[float] = []
        with httpx.Client(base_url=stack.api_url, timeout=60) as http:
            # Warm-up: the first signup creates the Stripe prices; both sides open pools.
            for i in range(WARMUP):
                product_signup(http, f"warm{i}-{uuid.uuid4().hex[:6]}")
            baseline = RawSignup(stack.settings())
            for i in range(WARMUP):
                baseline.run(f"rawwarm{i}-{uuid.uuid4().hex[:6]}", "raw@example.com")
            for i in range(ROUNDS):
                tag = uuid.uuid4().hex[:6]
                product.append(product_signup(http, f"p{i}-{tag}"))
                raw.append(baseline.run(f"r{i}-{tag}", f"r{i}@example.com"))
                print(f"  round {i}: product {product[-1]:.3f}s raw {raw[-1]:.3f}s", flush=True)
    p, r = summary(product), summary(raw)
    write_result(
        "signup",
        "signup to active",
        figures={
            "rounds": ROUNDS,
            "product": p,
            "baseline": r,
            "product_s": [round(x, 4) for x in product],
            "baseline_s": [round(x, 4) for x in raw],
            "p95_ratio": round(p["p95_ms"] / r["p95_ms"], 2),
            "settings": OVERRIDES,
        },
        checks=[Check("p50 ratio", round(p["p50_ms"] / r["p50_ms"], 2), 1.5)],
        notes=(
            "Interleaved rounds on one tenantry dev, Hetzner boot delay and action time 0. "
            "Both include paying on the hosted Checkout page. The product adds durable "
            "state: workflow history, the signup/tenant records and the provisioning log "
            "(one activity per stage change), webhook verification and the tenant workflow."
        ),
    )


if __name__ == "__main__":
    main()
