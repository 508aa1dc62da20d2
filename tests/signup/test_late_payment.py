"""A payment completed before Checkout closed is honoured even when its webhook is late.

The stacks here register no webhook endpoint, so Stripe's `checkout.session.completed`
never arrives on its own: the customer pays inside the window and the workflow finds
out only when its expiry timer fires and it reads the session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from devstack.admin import EmulatorAdmin
from tests.fixtures.stack import MANUAL_WEBHOOK_SECRET, STRIPE_KEY, Stack
from tests.support.checkout import pay
from tests.support.webhooks import deliver

WINDOW = 6  # seconds of Checkout window (the workflow's timer)


def completed_event(stack: Stack) -> dict[str, Any]:
    """The `checkout.session.completed` event Stripe could not deliver."""
    (event,) = httpx.get(
        f"{stack.stripe_url}/v1/events",
        params={"type": "checkout.session.completed"},
        headers={"Authorization": f"Bearer {STRIPE_KEY}"},
    ).json()["data"]
    return dict(event)


def test_paid_just_before_expiry_with_a_late_webhook_is_provisioned(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory(webhook=False, checkout_expiry=WINDOW)
    created = stack.signup("last-minute", email="late-payer@example.com")
    assert pay(created["checkout_url"]).status_code < 400
    assert stack.signup_status(created)["status"] == "pending"  # no webhook came

    status = stack.wait_active(created, timeout=120)
    assert len(stack.servers()) == 1
    stack.mailbox.wait_for(
        to=stack.settings.admin_email, subject_contains="paid as Checkout closed", timeout=10
    )
    stack.mailbox.wait_for(
        to="late-payer@example.com", subject_contains="Payment received", timeout=10
    )
    stack.mailbox.wait_for(to="late-payer@example.com", subject_contains="Welcome", timeout=10)

    # The webhook finally arrives: the signup has ended, and it says so instead of
    # passing for a delivery to a running workflow.
    late = deliver(stack.api.url, completed_event(stack), MANUAL_WEBHOOK_SECRET)
    assert late.status_code == 200, late.text
    assert late.json()["outcome"] == "ignored: signup already active"
    with stack.api.admin() as admin:
        tenant = admin.get(f"/v1/admin/tenants/{status['tenant_id']}").json()
    actions = [e["action"] for e in tenant["provisioning_log"]]
    assert "payment.late" in actions, actions


def test_late_payment_refund_mode_refunds_cancels_and_tells_both(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory(webhook=False, checkout_expiry=WINDOW, late_payment="refund")
    created = stack.signup("refund-me", email="refund@example.com")
    assert pay(created["checkout_url"]).status_code < 400
    # The refund is made and its answer lost once: the retry must not refund again.
    stripe_admin = EmulatorAdmin(stack.stripe_url)
    stripe_admin.inject({"operation": "refunds.create", "action": "drop", "times": 1})

    final = stack.wait_signup(created, timeout=60)
    assert final["status"] == "expired"
    assert "cancelled" in (final["error"] or "") and "refunded" in (final["error"] or "")
    assert stack.servers() == []
    client = stack.stripe()
    (customer,) = client.v1.customers.list(params={"email": "refund@example.com"}).data
    subs = client.v1.subscriptions.list(params={"customer": customer.id, "status": "all"}).data
    assert [s.status for s in subs] == ["canceled"]

    # Refunded once, in full, on the first invoice's payment; then cancelled.
    (invoice,) = client.v1.invoices.list(params={"subscription": subs[0].id}).data
    (intent,) = client.v1.payment_intents.list(params={"customer": customer.id}).data
    (refund,) = client.v1.refunds.list().data
    assert (refund.payment_intent, refund.status) == (intent.id, "succeeded")
    assert refund.amount == invoice.amount_paid == intent.amount_received > 0
    attempts = stripe_admin.requests("refunds.create")
    assert len(attempts) >= 2 and attempts[0].fault == "drop"
    assert {a.idempotency_key for a in attempts} == {"signup-refund-me:refund"}
    (cancel,) = stripe_admin.requests("subscriptions.cancel")
    assert attempts[-1].at < cancel.at

    admin_mail = stack.mailbox.wait_for(
        to=stack.settings.admin_email, subject_contains="paid as Checkout closed", timeout=10
    )
    assert f"Refund {refund.id} ({refund.amount} " in admin_mail.body, admin_mail.body
    assert "by hand" not in admin_mail.body
    customer_mail = stack.mailbox.wait_for(
        to="refund@example.com", subject_contains="refunded", timeout=10
    )
    assert "has been refunded" in customer_mail.body

    # A late webhook for it is not routed anywhere, and not silently either.
    late = deliver(stack.api.url, completed_event(stack), MANUAL_WEBHOOK_SECRET)
    assert late.status_code == 200, late.text
    assert late.json()["outcome"].startswith("unmatched")
