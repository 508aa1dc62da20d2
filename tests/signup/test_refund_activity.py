"""`refund_latest_payment_if_any` against the Stripe emulator: one full refund per
subscription, however often it runs (a retry, or a reset that replays it with the key
gone), and nothing at all for a subscription that was never paid."""

from __future__ import annotations

import stripe
from temporalio.testing import ActivityEnvironment

from activities.billing import BillingActivities
from tenantry.contracts.signup import RefundInput, RefundResult
from tests.devstack.test_stripe_checkout import make_price
from tests.devstack.test_stripe_payment_intents import _customer_with_default


def _subscription(client: stripe.StripeClient, card: str) -> stripe.Subscription:
    customer = _customer_with_default(client, card)
    return client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": make_price(client, 2900).id}]}
    )


def test_refunds_the_paid_invoice_once(stripe_client: stripe.StripeClient) -> None:
    billing = BillingActivities(stripe_client, public_url="http://127.0.0.1")
    sub = _subscription(stripe_client, "pm_card_visa")
    env = ActivityEnvironment()

    first: RefundResult = env.run(
        billing.refund_latest_payment_if_any,
        RefundInput(subscription_id=sub.id, idempotency_key="signup-a:refund"),
    )
    assert first.refund_id is not None and first.amount == 2900
    # The same key, and another key (the first one forgotten): no second refund.
    for key in ("signup-a:refund", "signup-a:refund-after-reset"):
        again: RefundResult = env.run(
            billing.refund_latest_payment_if_any,
            RefundInput(subscription_id=sub.id, idempotency_key=key),
        )
        assert again == first
    (refund,) = stripe_client.v1.refunds.list().data
    assert (refund.id, refund.amount, refund.payment_intent) == (
        first.refund_id,
        2900,
        first.payment_intent_id,
    )


def test_an_unpaid_subscription_refunds_nothing(stripe_client: stripe.StripeClient) -> None:
    billing = BillingActivities(stripe_client, public_url="http://127.0.0.1")
    sub = _subscription(stripe_client, "pm_card_chargeCustomerFail")
    result: RefundResult = ActivityEnvironment().run(
        billing.refund_latest_payment_if_any,
        RefundInput(subscription_id=sub.id, idempotency_key="signup-b:refund"),
    )
    assert result == RefundResult()
    assert stripe_client.v1.refunds.list().data == []
