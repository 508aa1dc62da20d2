"""Crashes and lost answers never leave a second server, record, customer or subscription."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from devstack.admin import EmulatorAdmin
from tests.fixtures.stack import Stack
from tests.support.checkout import pay
from tests.support.poll import eventually


def assert_one_of_everything(stack: Stack, subdomain: str, tenant_id: str) -> None:
    servers = stack.servers()
    assert [s.name for s in servers] == [f"tenant-{subdomain}"]
    assert servers[0].labels["tenantry/tenant"] == tenant_id
    records = stack.a_records()
    assert [r["Name"] for r in records] == [f"{subdomain}.{stack.aws.base_domain}."]
    assert records[0]["ResourceRecords"] == [{"Value": servers[0].public_net.ipv4.ip}]


def kill_after_server_create(stack: Stack, subdomain: str, created: dict[str, str]) -> None:
    # Hold the activity in its action polling so the kill lands between the create taking
    # effect and the workflow learning of it.
    stack.hetzner.admin.inject(
        {"operation": "actions.get", "action": "latency", "latency_ms": 3000}
    )
    eventually(
        lambda: any(r.status == 201 for r in stack.hetzner.admin.requests("servers.create")),
        timeout=30,
        what="the server create",
        interval=0.02,
    )
    stack.kill_worker()
    stack.hetzner.admin.clear_faults()


def kill_after_dns_change(stack: Stack, subdomain: str, created: dict[str, str]) -> None:
    eventually(lambda: stack.a_records(), timeout=30, what="the DNS record", interval=0.02)
    stack.kill_worker()


def kill_during_health_gate(stack: Stack, subdomain: str, created: dict[str, str]) -> None:
    eventually(
        lambda: stack.signup_status(created)["step"] == "health",
        timeout=30,
        what="the health gate",
        interval=0.02,
    )
    time.sleep(0.5)
    stack.kill_worker()


@pytest.mark.parametrize(
    "kill",
    [kill_after_server_create, kill_after_dns_change, kill_during_health_gate],
    ids=["after-server-create", "after-dns-change", "during-health-gate"],
)
def test_worker_killed_mid_saga_still_ends_active_with_one_of_each(
    stack_factory: Callable[..., Stack],
    kill: Callable[[Stack, str, dict[str, str]], None],
) -> None:
    stack = stack_factory(step_timeout=10)
    stack.hetzner.admin.post("/_admin/config", {"boot_delay": 4})
    created = stack.signup("crash")
    pay(created["checkout_url"])

    kill(stack, "crash", created)
    assert stack.signup_status(created)["status"] != "active"
    stack.start_worker()

    status = stack.wait_active(created)
    assert_one_of_everything(stack, "crash", status["tenant_id"])
    assert len(stack.hetzner.admin.requests("servers.create")) == 1


def test_lost_answers_on_create_calls_still_give_one_of_each(stack: Stack) -> None:
    """The effect happens and the answer is lost: the retry must adopt, not duplicate."""
    stripe_admin = EmulatorAdmin(stack.stripe_url)
    stripe_admin.inject(
        {"operation": "customers.create", "action": "drop", "times": 1},
        {"operation": "checkout.sessions.create", "action": "drop", "times": 1},
    )
    created = stack.signup("lossy", email="lossy@example.com")
    stack.hetzner.admin.inject({"operation": "servers.create", "action": "drop", "times": 1})
    pay(created["checkout_url"])

    status = stack.wait_active(created)
    assert_one_of_everything(stack, "lossy", status["tenant_id"])

    # Every create was made more than once, and each landed once.
    for operation in ("customers.create", "checkout.sessions.create"):
        attempts = stripe_admin.requests(operation)
        assert len(attempts) >= 2 and attempts[0].fault == "drop", operation
        assert len({a.idempotency_key for a in attempts}) == 1, operation
    assert stack.hetzner.admin.requests("servers.create")[0].fault == "drop"
    client = stack.stripe()
    customers = client.v1.customers.list(params={"email": "lossy@example.com"}).data
    assert len(customers) == 1
    sessions = client.v1.checkout.sessions.list(params={"customer": customers[0].id}).data
    assert len(sessions) == 1
    subscriptions = client.v1.subscriptions.list(params={"customer": customers[0].id}).data
    assert [s.status for s in subscriptions] == ["active"]
