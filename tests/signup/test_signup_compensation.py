"""Failures for good are compensated; an operator repairs one with `temporal workflow reset`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from devstack.admin import EmulatorAdmin
from tests.fixtures.api import ADMIN_TOKEN
from tests.fixtures.stack import Stack
from tests.support.checkout import pay


def leftovers(stack: Stack) -> tuple[list[str], list[str]]:
    """A label sweep of servers we manage, and every A record in the zone."""
    servers = [s.name for s in stack.servers(**{"tenantry/managed": "true"})]
    return servers, [r["Name"] for r in stack.a_records()]


def subscription_statuses(stack: Stack, email: str) -> list[str]:
    client = stack.stripe()
    (customer,) = client.v1.customers.list(params={"email": email}).data
    subs = client.v1.subscriptions.list(params={"customer": customer.id, "status": "all"}).data
    return sorted(s.status for s in subs)


def cli(*args: str, api_url: str) -> subprocess.CompletedProcess[str]:
    tenantry = str(Path(sys.executable).with_name("tenantry"))
    return subprocess.run(
        [tenantry, *args, "--api-url", api_url, "--token", ADMIN_TOKEN],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_permanent_hetzner_failure_is_compensated_and_reset_repairs_it(
    stack: Stack, temporal_address: str
) -> None:
    stack.hetzner.admin.post(
        "/_admin/config",
        {"action_failures": [{"command": "create_server", "code": "server_error", "times": 1}]},
    )
    created = stack.signup("doomed", email="doomed@example.com")
    pay(created["checkout_url"])

    failed = stack.wait_signup(created)
    assert failed["status"] == "failed"
    assert failed["error"].startswith("We could not create your server")
    assert leftovers(stack) == ([], [])
    assert subscription_statuses(stack, "doomed@example.com") == ["canceled"]
    stack.mailbox.wait_for(to=stack.settings.admin_email, subject_contains="failed", timeout=10)
    stack.mailbox.wait_for(to="doomed@example.com", subject_contains="could not", timeout=10)

    # The operator finds the reset point with the CLI, then resets with Temporal's CLI.
    listed = cli("signup", "list", "--status", "failed", "--json", api_url=stack.api.url)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["subdomain"] == "doomed" and row["reset_event_id"]
    # The replacement subscription's answer is lost once: it must still be created once.
    stripe_admin = EmulatorAdmin(stack.stripe_url)
    stripe_admin.inject({"operation": "subscriptions.create", "action": "drop", "times": 1})
    temporal = str(Path(sys.executable).with_name("temporal"))
    reset = subprocess.run(
        [
            temporal, "workflow", "reset",
            "--workflow-id", "signup-doomed",
            "--event-id", str(row["reset_event_id"]),
            "--reason", "Hetzner placement fixed",
            "--address", temporal_address,
        ],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert reset.returncode == 0, reset.stdout + reset.stderr

    repaired = stack.wait_signup(created, until=lambda s: s["status"] == "active", timeout=120)
    assert repaired["url"] == f"https://doomed.{stack.aws.base_domain}"
    servers, records = leftovers(stack)
    assert servers == ["tenant-doomed"]
    assert records == [f"doomed.{stack.aws.base_domain}."]
    # The compensated subscription stays cancelled; exactly one replaces it.
    assert subscription_statuses(stack, "doomed@example.com") == ["active", "canceled"]
    creates = stripe_admin.requests("subscriptions.create")
    assert creates[0].fault == "drop" and len({c.idempotency_key for c in creates}) == 1


def test_health_gate_timeout_removes_record_and_server(stack_factory: Callable[..., Stack]) -> None:
    stack = stack_factory(health_gate_budget=2)
    stack.hetzner.admin.post("/_admin/config", {"boot_delay": 60})
    created = stack.signup("sleepy", email="sleepy@example.com")
    pay(created["checkout_url"])

    failed = stack.wait_signup(created, timeout=60)
    assert failed["status"] == "failed"
    assert failed["error"].startswith("We could not start your instance")
    assert leftovers(stack) == ([], [])
    assert subscription_statuses(stack, "sleepy@example.com") == ["canceled"]
    with stack.api.admin() as admin:
        (tenant,) = admin.get("/v1/admin/tenants").json()["data"]
        detail = admin.get(f"/v1/admin/tenants/{tenant['tenant_id']}").json()
    assert tenant["status"] == "failed"
    actions = [e["action"] for e in detail["provisioning_log"]]
    assert actions.index("undo.delete_dns_record_if_present") < actions.index(
        "undo.delete_server_if_present"
    )
