"""A signup paid on the hosted Checkout page becomes an active tenant, on the real stack."""

from __future__ import annotations

import os
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Replayer

from tenantry.clients.temporal import DATA_CONVERTER
from tests.fixtures.stack import Stack
from tests.fixtures.temporal import visible_workflow_ids
from tests.support.checkout import pay
from worker.registry import workflows


async def test_paid_signup_becomes_active_with_one_of_everything(
    stack: Stack, temporal_client: Client
) -> None:
    created = stack.signup("acme", email="founder@acme.example")
    assert created["status"] == "pending"
    assert created["checkout_url"].startswith(stack.stripe_url)

    paid = pay(created["checkout_url"])
    assert paid.status_code in (200, 302, 303), paid.text

    status = stack.wait_active(created)
    assert status["url"] == f"https://acme.{stack.aws.base_domain}"
    tenant_id = status["tenant_id"]

    # Exactly one server, labelled as the tenant's.
    servers = stack.servers(**{"tenantry/tenant": tenant_id})
    assert [s.name for s in servers] == ["tenant-acme"]
    assert servers[0].labels["tenantry/subdomain"] == "acme"
    assert len(stack.servers()) == 1
    ip = servers[0].public_net.ipv4.ip

    # Exactly one A record, pointing at it.
    records = stack.a_records()
    assert [(r["Name"], [v["Value"] for v in r["ResourceRecords"]]) for r in records] == [
        (f"acme.{stack.aws.base_domain}.", [ip])
    ]

    # An active subscription for the customer.
    with stack.api.admin() as admin:
        tenant = admin.get(f"/v1/admin/tenants/{tenant_id}").json()
    subscription = stack.stripe().v1.subscriptions.retrieve(tenant["stripe_subscription_id"])
    assert subscription.status == "active"
    assert tenant["status"] == "active" and tenant["server_ip"] == ip

    # The welcome mail reached the customer.
    mail = stack.mailbox.wait_for(to="founder@acme.example", subject_contains="Welcome", timeout=10)
    assert f"acme.{stack.aws.base_domain}" in mail.body

    # The provisioning log tells the whole story, in order.
    actions = [entry["action"] for entry in tenant["provisioning_log"]]
    for expected in (
        "stage.checkout",
        "stage.awaiting_payment",
        "tenant.created",
        "stage.server",
        "server.ready",
        "stage.dns",
        "dns.insync",
        "stage.health",
        "health.ok",
        "stage.welcome",
        "stage.active",
    ):
        assert expected in actions, (expected, actions)
    assert actions.index("server.ready") < actions.index("dns.insync") < actions.index("health.ok")

    # An operator finds the signup in Temporal by its subdomain.
    found = await visible_workflow_ids(temporal_client, 'Subdomain = "acme"', at_least=1)
    assert "signup-acme" in found

    # Its history replays against the code as it is now (and can be recorded for CI).
    history = await temporal_client.get_workflow_handle("signup-acme").fetch_history()
    await Replayer(workflows=workflows(), data_converter=DATA_CONVERTER).replay_workflow(history)
    if os.environ.get("TENANTRY_RECORD_HISTORIES"):
        target = Path(__file__).parents[1] / "replay" / "histories" / "signup-active.json"
        target.write_text(history.to_json())
