"""Billing events from Stripe drive the tenant: a failed payment opens a grace period that
ends in suspension unless the payment goes through; the workflow keeps every event across
continue-as-new."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from temporalio.client import Client

from devstack.admin import EmulatorAdmin
from tests.fixtures.stack import MANUAL_WEBHOOK_SECRET, STRIPE_KEY, Stack
from tests.support.checkout import pay
from tests.support.poll import eventually_async
from tests.support.webhooks import deliver
from tests.tenants.test_tenant_lifecycle import activate, health, wait_tenant
from workflows.tenant import TenantWorkflow

MONTH = 31 * 24 * 3600


def fail_renewal(stack: Stack, tenant: dict[str, Any]) -> str:
    """Makes the customer's card fail and moves Stripe's clock past the renewal."""
    client = stack.stripe()
    subscription = client.v1.subscriptions.retrieve(tenant["stripe_subscription_id"])
    customer = str(subscription.customer)
    admin = EmulatorAdmin(stack.stripe_url)
    admin.post(f"/_admin/customers/{customer}/payment_behavior", {"fail": True})
    admin.post("/_admin/advance", {"seconds": MONTH})
    return customer


def test_unpaid_invoice_suspends_the_tenant_after_the_grace_period(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory(payment_grace=4)
    tenant = activate(stack, "unpaid", email="unpaid@example.com")
    fail_renewal(stack, tenant)

    stack.mailbox.wait_for(to="unpaid@example.com", subject_contains="payment failed", timeout=20)
    stack.mailbox.wait_for(to="unpaid@example.com", subject_contains="Reminder", timeout=20)
    final = wait_tenant(stack, tenant["tenant_id"], lambda t: t["status"] == "suspended", 30)
    assert health(final, stack) == 503
    actions = [e["action"] for e in final["provisioning_log"]]
    for expected in (
        "billing.invoice.payment_failed",
        "grace.started",
        "grace.reminder",
        "grace.expired",
        "tenant.suspend",
    ):
        assert expected in actions, (expected, actions)


def test_payment_within_grace_keeps_the_tenant_active(stack_factory: Callable[..., Stack]) -> None:
    stack = stack_factory(payment_grace=6)
    tenant = activate(stack, "payer", email="payer@example.com")
    customer = fail_renewal(stack, tenant)
    wait_tenant(
        stack,
        tenant["tenant_id"],
        lambda t: any(e["action"] == "grace.started" for e in t["provisioning_log"]),
    )
    admin = EmulatorAdmin(stack.stripe_url)
    admin.post(f"/_admin/customers/{customer}/payment_behavior", {"fail": False})
    client = stack.stripe()
    (invoice,) = client.v1.invoices.list(params={"customer": customer, "status": "open"}).data
    client.v1.invoices.pay(invoice.id)
    wait_tenant(
        stack,
        tenant["tenant_id"],
        lambda t: any(e["action"] == "grace.ended" for e in t["provisioning_log"]),
    )
    time.sleep(7)  # past the grace period that would have suspended it
    final = wait_tenant(stack, tenant["tenant_id"], lambda t: True)
    assert final["status"] == "active"
    assert health(final, stack) == 200
    assert "grace.expired" not in [e["action"] for e in final["provisioning_log"]]


async def test_thirty_days_of_events_continue_as_new_and_keep_every_event(
    stack_factory: Callable[..., Stack], temporal_client: Client
) -> None:
    stack = stack_factory(webhook=False, tenant_history_limit=60, payment_grace=3600)
    created = stack.signup("longlived", email="long@example.com")
    # The checkout webhook is delivered by hand in this stack (no endpoint registered).

    pay(created["checkout_url"])
    events = httpx.get(
        f"{stack.stripe_url}/v1/events",
        params={"type": "checkout.session.completed"},
        headers={"Authorization": f"Bearer {STRIPE_KEY}"},
    ).json()["data"]
    deliver(stack.api.url, events[0], MANUAL_WEBHOOK_SECRET)
    status = stack.wait_active(created)
    with stack.api.admin() as admin:
        tenant = admin.get(f"/v1/admin/tenants/{status['tenant_id']}").json()

    sent: list[str] = []
    for day in range(30):
        for kind in (
            ("invoice.payment_failed", "invoice.paid") if day % 7 == 3 else ("invoice.paid",)
        ):
            event = {
                "id": f"evt_day{day}_{kind}",
                "type": kind,
                "created": int(time.time()),
                "data": {
                    "object": {"id": f"in_{day}", "subscription": tenant["stripe_subscription_id"]}
                },
            }
            response = deliver(stack.api.url, event, MANUAL_WEBHOOK_SECRET)
            assert response.json()["outcome"] == "routed", response.text
            sent.append(event["id"])
    handle = temporal_client.get_workflow_handle_for(
        TenantWorkflow.run, f"tenant-{tenant['tenant_id']}"
    )
    state = await eventually_async(
        lambda: handle.query(TenantWorkflow.state),
        until=lambda s: len(s.events) == len(sent),
        timeout=90,
        what=f"{len(sent)} billing events handled",
        interval=0.5,
    )
    assert state.events == sent
    assert state.runs > 1, "the workflow should have continued as new"
    assert state.status == "active" and state.grace_until is None
