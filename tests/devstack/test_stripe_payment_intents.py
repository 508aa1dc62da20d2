"""Subscriptions created through the API charge the customer's card, as Stripe does.

With a card that succeeds the subscription is ``active``, its first invoice ``paid`` and
the invoice's PaymentIntent ``succeeded``; with a card that fails it stays ``incomplete``,
the invoice ``open`` and the PaymentIntent ``requires_payment_method`` with the decline as
``last_payment_error`` (Stripe's "default_incomplete"/"allow_incomplete" behaviour). Since
API version basil an invoice reaches its PaymentIntent through ``payments`` (included with
``expand[]=payments``). Cards are Stripe's test PaymentMethods (``pm_card_visa``...).
"""

from __future__ import annotations

import pytest
import stripe

from tests.devstack.test_stripe_checkout import make_price

FAILS_ON_CHARGE = "pm_card_chargeCustomerFail"  # attaches, then every charge is declined


def _customer_with_default(client: stripe.StripeClient, test_pm: str) -> stripe.Customer:
    return client.v1.customers.create(
        params={
            "email": "ada@example.com",
            "payment_method": test_pm,
            "invoice_settings": {"default_payment_method": test_pm},
        }
    )


def _intent_of(client: stripe.StripeClient, invoice_id: str) -> stripe.PaymentIntent:
    invoice = client.v1.invoices.retrieve(
        invoice_id, params={"expand": ["payments.data.payment.payment_intent"]}
    )
    assert invoice.payments is not None
    (payment,) = invoice.payments.data
    assert payment.payment.type == "payment_intent"
    intent = payment.payment.payment_intent
    assert isinstance(intent, stripe.PaymentIntent)
    # The same object, fetched on its own.
    assert client.v1.payment_intents.retrieve(intent.id).status == intent.status
    return intent


def test_default_card_that_succeeds_activates_the_subscription(
    stripe_client: stripe.StripeClient,
) -> None:
    customer = _customer_with_default(stripe_client, "pm_card_visa")
    pm = customer.invoice_settings.default_payment_method
    assert isinstance(pm, str) and pm.startswith("pm_") and pm != "pm_card_visa"
    price = make_price(stripe_client, 2900)
    sub = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": price.id}]}
    )
    assert sub.status == "active"
    invoice = stripe_client.v1.invoices.retrieve(str(sub.latest_invoice))
    assert (invoice.status, invoice.amount_paid, invoice.amount_remaining) == ("paid", 2900, 0)
    assert "payments" not in invoice  # included only on request
    intent = _intent_of(stripe_client, invoice.id)
    assert (intent.status, intent.amount, intent.amount_received) == ("succeeded", 2900, 2900)
    assert (intent.customer, intent.payment_method) == (customer.id, pm)
    payment = stripe_client.v1.invoice_payments.list(params={"invoice": invoice.id}).data[0]
    assert (payment.status, payment.amount_paid) == ("paid", 2900)


def test_default_card_that_fails_leaves_it_incomplete(stripe_client: stripe.StripeClient) -> None:
    customer = _customer_with_default(stripe_client, FAILS_ON_CHARGE)
    price = make_price(stripe_client, 2900)
    sub = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": price.id}]}
    )
    assert sub.status == "incomplete"
    invoice = stripe_client.v1.invoices.retrieve(str(sub.latest_invoice))
    assert (invoice.status, invoice.amount_paid, invoice.attempted) == ("open", 0, True)
    intent = _intent_of(stripe_client, invoice.id)
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error is not None
    assert (intent.last_payment_error.code, intent.last_payment_error.decline_code) == (
        "card_declined",
        "generic_decline",
    )
    payment = stripe_client.v1.invoice_payments.list(params={"invoice": invoice.id}).data[0]
    assert payment.status == "open"

    # The customer fixes the card; paying the invoice reuses the same PaymentIntent.
    good = stripe_client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    stripe_client.v1.invoices.pay(invoice.id, params={"payment_method": good.id})
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "active"
    again = _intent_of(stripe_client, invoice.id)
    assert (again.id, again.status, again.payment_method) == (intent.id, "succeeded", good.id)


def test_subscription_default_payment_method_is_charged_before_the_customers(
    stripe_client: stripe.StripeClient,
) -> None:
    customer = _customer_with_default(stripe_client, FAILS_ON_CHARGE)
    attached = stripe_client.v1.payment_methods.attach(
        "pm_card_mastercard", params={"customer": customer.id}
    )
    assert attached.customer == customer.id
    sub = stripe_client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": make_price(stripe_client, 1500).id}],
            "default_payment_method": attached.id,
        }
    )
    assert sub.status == "active"
    intent = _intent_of(stripe_client, str(sub.latest_invoice))
    assert (intent.status, intent.payment_method) == ("succeeded", attached.id)


def test_a_card_that_declines_cannot_be_attached(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create(params={"email": "bob@example.com"})
    with pytest.raises(stripe.CardError) as err:
        stripe_client.v1.payment_methods.attach(
            "pm_card_chargeDeclined", params={"customer": customer.id}
        )
    assert err.value.code == "card_declined"
    listed = stripe_client.v1.customers.payment_methods.list(customer.id)
    assert listed.data == []


def test_no_card_at_all_leaves_it_incomplete(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create(params={"email": "eve@example.com"})
    sub = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": make_price(stripe_client).id}]}
    )
    assert sub.status == "incomplete"
    intent = _intent_of(stripe_client, str(sub.latest_invoice))
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error is not None
    assert intent.last_payment_error.code == "payment_method_missing"
