"""Billing events for a subscription that is not the tenant's current one change nothing.

A subscription replaced (by a repair, or a cancelled one re-created) can still produce
events late; routing them by customer alone would let a `customer.subscription.deleted`
for the old subscription suspend a tenant that pays on its new one.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.fixtures.stack import Stack
from tests.support.webhooks import deliver
from tests.tenants.test_tenant_lifecycle import activate, wait_tenant


def stripe_event(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": obj},
    }


def test_events_for_a_replaced_subscription_are_ignored(stack: Stack) -> None:
    tenant = activate(stack, "stale-sub")
    customer = stack.stripe().v1.subscriptions.retrieve(tenant["stripe_subscription_id"]).customer
    secret = stack.settings.stripe_webhook_secret.get_secret_value()
    old = "sub_replaced0000000000000"
    events = [
        stripe_event(
            "customer.subscription.deleted",
            {"id": old, "object": "subscription", "customer": str(customer), "status": "canceled"},
        ),
        stripe_event(
            "invoice.payment_failed",
            {
                "id": "in_old000000000000000",
                "object": "invoice",
                "customer": str(customer),
                "subscription": old,
            },
        ),
    ]
    for event in events:
        response = deliver(stack.api.url, event, secret)
        assert response.status_code == 200, response.text
        outcome = response.json()["outcome"]
        assert outcome.startswith("ignored") and "subscription" in outcome, outcome

    time.sleep(3)  # what a routed event would have done by now (suspend, grace) did not happen
    final = wait_tenant(stack, tenant["tenant_id"], lambda t: True)
    assert final["status"] == "active"
    actions = [e["action"] for e in final["provisioning_log"]]
    assert not [a for a in actions if a.startswith(("billing.", "grace.", "tenant.suspend"))], (
        actions
    )
