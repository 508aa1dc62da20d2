"""Refunds of an invoice's payment, through the official client, as with Stripe.

A refund is made against the invoice's PaymentIntent (found through ``invoice.payments``),
defaults to what is left to refund, never exceeds what was received, is idempotent with
``Idempotency-Key`` and announces itself with ``refund.created``.
"""

from __future__ import annotations

import pytest
import stripe

from tests.devstack.test_stripe_checkout import make_price
from tests.devstack.test_stripe_payment_intents import _customer_with_default, _intent_of
from tests.fixtures.stripe import WebhookReceiver


def _paid_intent(client: stripe.StripeClient, cents: int = 2900) -> stripe.PaymentIntent:
    customer = _customer_with_default(client, "pm_card_visa")
    sub = client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": make_price(client, cents).id}]}
    )
    return _intent_of(client, str(sub.latest_invoice))


def test_refund_defaults_to_the_whole_amount_and_is_listed(
    stripe_client: stripe.StripeClient,
) -> None:
    intent = _paid_intent(stripe_client)
    refund = stripe_client.v1.refunds.create(params={"payment_intent": intent.id})
    assert (refund.object, refund.amount, refund.status) == ("refund", 2900, "succeeded")
    assert (refund.payment_intent, refund.currency) == (intent.id, intent.currency)
    assert refund.id.startswith("re_")
    assert stripe_client.v1.refunds.retrieve(refund.id).amount == 2900
    listed = stripe_client.v1.refunds.list(params={"payment_intent": intent.id}).data
    assert [r.id for r in listed] == [refund.id]
    assert stripe_client.v1.refunds.list(params={"payment_intent": "pi_other"}).data == []


def test_partial_refunds_add_up_to_what_was_received(
    stripe_client: stripe.StripeClient,
) -> None:
    intent = _paid_intent(stripe_client)
    first = stripe_client.v1.refunds.create(
        params={"payment_intent": intent.id, "amount": 1000, "reason": "requested_by_customer"}
    )
    assert (first.amount, first.reason) == (1000, "requested_by_customer")
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        stripe_client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 2000})
    assert too_much.value.param == "amount"
    rest = stripe_client.v1.refunds.create(params={"payment_intent": intent.id})
    assert rest.amount == 1900
    with pytest.raises(stripe.InvalidRequestError) as again:
        stripe_client.v1.refunds.create(params={"payment_intent": intent.id})
    assert again.value.code == "charge_already_refunded"


def test_refund_is_idempotent_by_key(stripe_client: stripe.StripeClient) -> None:
    intent = _paid_intent(stripe_client)
    key = {"idempotency_key": "signup-x:refund"}
    first = stripe_client.v1.refunds.create(params={"payment_intent": intent.id}, options=key)
    second = stripe_client.v1.refunds.create(params={"payment_intent": intent.id}, options=key)
    assert first.id == second.id
    assert len(stripe_client.v1.refunds.list().data) == 1


def test_refund_needs_a_succeeded_payment_and_one_target(
    stripe_client: stripe.StripeClient,
) -> None:
    customer = _customer_with_default(stripe_client, "pm_card_chargeCustomerFail")
    sub = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": make_price(stripe_client, 2900).id}]}
    )
    declined = _intent_of(stripe_client, str(sub.latest_invoice))
    with pytest.raises(stripe.InvalidRequestError) as unpaid:
        stripe_client.v1.refunds.create(params={"payment_intent": declined.id})
    assert unpaid.value.code == "charge_not_refundable"
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.refunds.create()
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_client.v1.refunds.create(params={"charge": "ch_missing"})
    assert missing.value.http_status == 404
    with pytest.raises(stripe.InvalidRequestError) as gone:
        stripe_client.v1.refunds.retrieve("re_missing")
    assert gone.value.http_status == 404


def test_refund_created_event_is_sent(
    stripe_client: stripe.StripeClient, webhook: WebhookReceiver
) -> None:
    intent = _paid_intent(stripe_client)
    refund = stripe_client.v1.refunds.create(params={"payment_intent": intent.id})
    [event] = webhook.wait_for("refund.created")
    assert event.data.object["id"] == refund.id
    assert event.data.object["amount"] == 2900
