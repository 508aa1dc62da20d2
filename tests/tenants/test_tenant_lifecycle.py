"""Tenant lifecycle through the admin API and a real worker: suspend, tier, delete, billing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from devstack.admin import EmulatorAdmin
from tests.fixtures.api import ADMIN_TOKEN
from tests.fixtures.stack import Stack
from tests.support.checkout import pay
from tests.support.poll import eventually


def activate(stack: Stack, subdomain: str, email: str = "owner@example.com") -> dict[str, Any]:
    created = stack.signup(subdomain, email=email)
    pay(created["checkout_url"])
    status = stack.wait_active(created)
    with stack.api.admin() as admin:
        return dict(admin.get(f"/v1/admin/tenants/{status['tenant_id']}").json())


def health(tenant: dict[str, Any], stack: Stack) -> int:
    try:
        response = httpx.get(
            f"http://{tenant['server_ip']}/health",
            headers={"Host": f"{tenant['subdomain']}.{stack.aws.base_domain}"},
            timeout=5,
        )
    except httpx.HTTPError:
        return 0
    return response.status_code


def operate(stack: Stack, method: str, path: str, **kwargs: Any) -> httpx.Response:
    with stack.api.admin() as admin:
        return admin.request(method, path, **kwargs)


def tenants_cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    tenantry = str(Path(sys.executable).with_name("tenantry"))
    return subprocess.run(
        [tenantry, "tenants", *args, "--api-url", stack.api.url, "--token", ADMIN_TOKEN],
        capture_output=True,
        text=True,
        timeout=300,
    )


def wait_tenant(
    stack: Stack, tenant_id: str, until: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:

    def look() -> dict[str, Any]:
        with stack.api.admin() as admin:
            return dict(admin.get(f"/v1/admin/tenants/{tenant_id}").json())

    tenant: dict[str, Any] = eventually(
        look,
        until=until,
        timeout=timeout,
        what=lambda last: f"tenant stuck: {last['status']}\n{stack.worker_logs()}",
        interval=0.2,
    )
    return tenant


def test_suspend_stops_health_and_unsuspend_brings_it_back(stack: Stack) -> None:
    tenant = activate(stack, "pause")
    tid = tenant["tenant_id"]
    assert health(tenant, stack) == 200

    # Through the operator CLI, as an operator would.
    suspended = tenants_cli(stack, "suspend", tid, "--reason", "abuse", "--json")
    assert suspended.returncode == 0, suspended.stderr
    assert json.loads(suspended.stdout)["status"] == "suspended"
    assert health(tenant, stack) == 503

    again = operate(stack, "POST", f"/v1/admin/tenants/{tid}/suspend")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    refused = tenants_cli(stack, "suspend", tid)
    assert refused.returncode == 2 and "conflict" in refused.stderr

    resumed = tenants_cli(stack, "unsuspend", tid, "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "active"
    assert health(tenant, stack) == 200
    log = [e["action"] for e in wait_tenant(stack, tid, lambda t: True)["provisioning_log"]]
    assert log.index("tenant.suspend") < log.index("tenant.unsuspend")


def test_tier_change_resizes_server_and_reprices_subscription(stack: Stack) -> None:
    tenant = activate(stack, "grow")
    tid = tenant["tenant_id"]
    (server,) = stack.servers()
    assert server.server_type.name == "cpx21"

    bad = operate(stack, "POST", f"/v1/admin/tenants/{tid}/tier", json={"tier": "gold"})
    assert bad.status_code == 422
    same = operate(stack, "POST", f"/v1/admin/tenants/{tid}/tier", json={"tier": "starter"})
    assert same.status_code == 409

    changed = operate(stack, "POST", f"/v1/admin/tenants/{tid}/tier", json={"tier": "pro"})
    assert changed.status_code in (200, 202), changed.text
    final = wait_tenant(stack, tid, lambda t: t["tier"] == "pro")
    (server,) = stack.servers()
    assert server.server_type.name == "ccx13" and server.status == "running"
    subscription = stack.stripe().v1.subscriptions.retrieve(final["stripe_subscription_id"])
    item = subscription["items"].data[0]
    assert item.price.unit_amount == 7900 and item.price.lookup_key == "tenant-pro-monthly"
    assert health(final, stack) == 200


def test_failed_tier_change_leaves_the_old_tier(stack: Stack) -> None:
    tenant = activate(stack, "steady")
    tid = tenant["tenant_id"]
    EmulatorAdmin(stack.stripe_url).inject(
        {"operation": "subscriptions.update", "status": 400, "code": "resource_missing"}
    )
    response = operate(stack, "POST", f"/v1/admin/tenants/{tid}/tier", json={"tier": "pro"})
    assert response.status_code in (202, 502), response.text
    final = wait_tenant(
        stack,
        tid,
        lambda t: (
            any(e["action"] == "tier.rollback" for e in t["provisioning_log"])
            and stack.servers()[0].server_type.name == "cpx21"
            and stack.servers()[0].status == "running"
        ),
        timeout=90,
    )
    assert final["tier"] == "starter" and final["status"] == "active"
    subscription = stack.stripe().v1.subscriptions.retrieve(final["stripe_subscription_id"])
    assert subscription["items"].data[0].price.unit_amount == 2900


def test_delete_leaves_nothing_but_the_log(stack: Stack) -> None:
    tenant = activate(stack, "gone")
    tid = tenant["tenant_id"]
    deleted = operate(stack, "DELETE", f"/v1/admin/tenants/{tid}")
    assert deleted.status_code in (200, 202), deleted.text
    final = wait_tenant(stack, tid, lambda t: t["status"] == "deleted")
    assert stack.servers() == [] and stack.a_records() == []
    subscription = stack.stripe().v1.subscriptions.retrieve(final["stripe_subscription_id"])
    assert subscription.status == "canceled"
    actions = [e["action"] for e in final["provisioning_log"]]
    assert "stage.active" in actions and actions[-1] == "tenant.delete.done"
    # Deleting again is refused, not repeated.
    assert operate(stack, "DELETE", f"/v1/admin/tenants/{tid}").status_code == 409


def test_concurrent_conflicting_operations_are_serialized_or_refused(stack: Stack) -> None:
    tenant = activate(stack, "racy")
    tid = tenant["tenant_id"]
    from concurrent.futures import ThreadPoolExecutor

    requests = [("POST", "suspend"), ("POST", "suspend"), ("DELETE", ""), ("POST", "unsuspend")]
    with ThreadPoolExecutor(4) as pool:
        responses = list(
            pool.map(
                lambda r: operate(stack, r[0], f"/v1/admin/tenants/{tid}/{r[1]}".rstrip("/")),
                requests,
            )
        )
    codes = [r.status_code for r in responses]
    assert all(c in (200, 202, 409) for c in codes), [r.text for r in responses]
    assert 200 in codes or 202 in codes
    final = wait_tenant(stack, tid, lambda t: t["status"] in ("active", "suspended", "deleted"))
    # Every accepted operation ran, in some order, and the end state is one of them.
    assert final["status"] in ("active", "suspended", "deleted")
