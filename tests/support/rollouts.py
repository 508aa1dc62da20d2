"""Helpers of the rollout and health-sweep tests: active tenants, their stacks, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.api import ADMIN_TOKEN
from tests.fixtures.stack import Stack
from tests.support.checkout import pay
from tests.support.poll import eventually

REPO = Path(__file__).resolve().parents[2]
FIRST_TAG = "stable"  # the tag of TENANTRY_TENANT_APP_IMAGE's default that servers boot with


def activate_all(stack: Stack, *subdomains: str) -> list[dict[str, Any]]:
    """Signs up and pays for every subdomain at once, then waits until all are active."""
    created = [stack.signup(s, email=f"owner@{s}.example") for s in subdomains]
    for signup in created:
        pay(signup["checkout_url"])
    tenants = []
    for signup in created:
        status = stack.wait_active(signup, timeout=180)
        tenants.append(tenant(stack, status["tenant_id"]))
    return tenants


def tenant(stack: Stack, tenant_id: str) -> dict[str, Any]:
    with stack.api.admin() as admin:
        response = admin.get(f"/v1/admin/tenants/{tenant_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def stack_health(stack: Stack, t: dict[str, Any]) -> tuple[int, str | None]:
    """(status code, reported version) of a tenant's `GET /health`; 0 if nothing answers."""
    try:
        response = httpx.get(
            f"http://{t['server_ip']}/health",
            headers={"Host": f"{t['subdomain']}.{stack.aws.base_domain}"},
            timeout=5,
        )
    except httpx.HTTPError:
        return 0, None
    return response.status_code, response.json().get("version")


def admin(stack: Stack, method: str, path: str, **kwargs: Any) -> httpx.Response:
    with stack.api.admin() as client:
        return client.request(method, path, **kwargs)


def start_rollout(stack: Stack, tag: str, parallelism: int = 1, canary: int = 1) -> dict[str, Any]:
    body = {"tag": tag, "parallelism": parallelism, "canary": canary}
    response = admin(stack, "POST", "/v1/admin/rollouts", json=body)
    assert response.status_code == 202, response.text
    return dict(response.json())


def wait_rollout(
    stack: Stack, rollout_id: str, until: Any = None, timeout: float = 120
) -> dict[str, Any]:
    """Polls `GET /v1/admin/rollouts/{id}` until `until(rollout)` (default: it ended)."""
    until = until or (lambda r: r["status"] in ("completed", "failed", "cancelled"))

    def look() -> dict[str, Any]:
        response = admin(stack, "GET", f"/v1/admin/rollouts/{rollout_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    rollout: dict[str, Any] = eventually(
        look,
        until=until,
        timeout=timeout,
        what=lambda last: f"rollout stuck: {last}\n{stack.worker_logs()}",
        interval=0.2,
    )
    return rollout


def set_failing_tags(stack: Stack, *tags: str) -> None:
    stack.hetzner.admin.post("/_admin/config", {"failing_stack_tags": list(tags)})


def cli(stack: Stack, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Runs `tenantry <args>` against the stack's API with the admin token."""
    tenantry = Path(sys.executable).with_name("tenantry")
    return subprocess.run(
        [str(tenantry), *args],
        env={
            **os.environ,
            "TENANTRY_API_URL": stack.api.url,
            "TENANTRY_TOKEN": ADMIN_TOKEN,
        },
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def cli_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def log_actions(t: dict[str, Any]) -> list[str]:
    return [e["action"] for e in t["provisioning_log"]]
