"""Checkout in setup mode, metered prices with `transform_quantity`, and the customer
portal: what an account that pays for pod usage goes through, driven by the official
client as at Stripe."""

from __future__ import annotations

import re

import httpx
import pytest
import stripe

from tests.devstack.test_stripe_checkout import pay_on_page
from tests.fixtures.stripe import StripeEmulator, WebhookReceiver

DAY = 86400


def setup_session(
    client: stripe.StripeClient, customer: str, **extra: object
) -> stripe.checkout.Session:
    return client.v1.checkout.sessions.create(
        params={
            "mode": "setup",
            "customer": customer,
            "currency": "usd",
            "success_url": "http://127.0.0.1:9/card-saved",
            "metadata": {"account_id": "a1"},
            **extra,  # type: ignore[typeddict-item]
        }
    )


def test_setup_mode_saves_a_card_without_charging(
    stripe_client: stripe.StripeClient, webhook: WebhookReceiver
) -> None:
    customer = stripe_client.v1.customers.create(params={"email": "ada@example.com"})
    session = setup_session(stripe_client, customer.id)
    assert session.mode == "setup" and session.status == "open" and session.url
    assert session.payment_status == "no_payment_required" and session.amount_total is None
    assert session.setup_intent and str(session.setup_intent).startswith("seti_")
    intent = stripe_client.v1.setup_intents.retrieve(str(session.setup_intent))
    assert intent.status == "requires_payment_method" and intent.payment_method is None

    # A declined card leaves the session open; a good one completes it.
    assert pay_on_page(session.url, "4000000000000002").status_code == 402
    assert pay_on_page(session.url, "4242424242424242").status_code == 303
    done = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert done.status == "complete" and done.subscription is None and done.invoice is None
    intent = stripe_client.v1.setup_intents.retrieve(str(session.setup_intent))
    assert intent.status == "succeeded" and intent.customer == customer.id
    pm = stripe_client.v1.payment_methods.retrieve(str(intent.payment_method))
    assert pm.customer == customer.id and pm.card and pm.card.last4 == "4242"
    # Stripe does not make the saved card the default: the integration does.
    assert stripe_client.v1.customers.retrieve(customer.id).invoice_settings
    assert (
        stripe_client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method
        is None
    )
    assert stripe_client.v1.invoices.list(params={"customer": customer.id}).data == []
    [completed] = webhook.wait_for("checkout.session.completed")
    assert completed.data.object["mode"] == "setup"
    assert completed.data.object["setup_intent"] == session.setup_intent
    assert completed.data.object["metadata"]["account_id"] == "a1"
    webhook.wait_for("setup_intent.succeeded")


def test_setup_mode_refuses_what_stripe_refuses(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create()
    product = stripe_client.v1.products.create(params={"name": "x"})
    price = stripe_client.v1.prices.create(
        params={"product": product.id, "currency": "usd", "unit_amount": 100}
    )
    with pytest.raises(stripe.InvalidRequestError) as err:
        setup_session(stripe_client, customer.id, line_items=[{"price": price.id, "quantity": 1}])
    assert err.value.param == "line_items"
    with pytest.raises(stripe.InvalidRequestError) as err:
        stripe_client.v1.checkout.sessions.create(
            params={"mode": "setup", "customer": customer.id, "success_url": "http://x/"}
        )
    assert err.value.param == "currency"


def test_metered_price_with_transform_quantity_bills_whole_packages(
    stripe_env: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    """Usage in seconds, priced per hour: the line shows the usage, the amount is per
    started hour (`round=up`) times the decimal unit amount."""
    meter = stripe_client.v1.billing.meters.create(
        params={
            "display_name": "runtime",
            "event_name": "runtime_seconds",
            "default_aggregation": {"formula": "sum"},
        }
    )
    product = stripe_client.v1.products.create(params={"name": "dev.medium"})
    price = stripe_client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount_decimal": "1.7",
            "transform_quantity": {"divide_by": 3600, "round": "up"},
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )
    assert price.transform_quantity
    assert price.transform_quantity.divide_by == 3600 and price.transform_quantity.round == "up"
    with pytest.raises(stripe.InvalidRequestError) as err:
        stripe_client.v1.prices.create(
            params={
                "product": product.id,
                "currency": "usd",
                "unit_amount": 1,
                "transform_quantity": {"divide_by": 0, "round": "up"},
            }
        )
    assert err.value.param == "transform_quantity[divide_by]"
    customer = stripe_client.v1.customers.create(
        params={
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    sub = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": price.id}]}
    )
    assert sub.status == "active"
    now = stripe_env.now()
    for i, seconds in enumerate((3600 * 10, 3600 * 2, 1)):
        stripe_client.v1.billing.meter_events.create(
            params={
                "event_name": "runtime_seconds",
                "identifier": f"e{i}",
                "timestamp": now,
                "payload": {"stripe_customer_id": customer.id, "value": str(seconds)},
            }
        )
    stripe_env.advance(32 * DAY)
    renewal = stripe_client.v1.invoices.list(params={"customer": customer.id}).data[0]
    assert renewal.billing_reason == "subscription_cycle" and renewal.status == "paid"
    [line] = renewal.lines.data
    assert line.quantity == 12 * 3600 + 1
    assert line.amount == 22  # 13 started hours x 1.7 cents = 22.1, rounded


def test_billing_portal_lists_invoices_and_changes_the_card(
    stripe_client: stripe.StripeClient, webhook: WebhookReceiver
) -> None:
    customer = stripe_client.v1.customers.create(params={"email": "ada@example.com"})
    session = stripe_client.v1.billing_portal.sessions.create(
        params={"customer": customer.id, "return_url": "http://127.0.0.1:9/back"}
    )
    assert session.object == "billing_portal.session" and session.customer == customer.id
    assert session.return_url == "http://127.0.0.1:9/back"
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.billing_portal.sessions.create(params={"customer": "cus_missing"})
    with httpx.Client(timeout=10) as http:
        page = http.get(session.url)
        assert page.status_code == 200 and "no card" in page.text
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action is not None
        target = httpx.URL(session.url).join(action.group(1))
        bad = http.post(target, data={"card_number": "4000000000000002", "card_expiry": "12/34"})
        assert bad.status_code == 402 and "declined" in bad.text
        ok = http.post(target, data={"card_number": "5555555555554444", "card_expiry": "12/34"})
        assert ok.status_code == 200 and "mastercard ending in 4444" in ok.text
    default = stripe_client.v1.customers.retrieve(customer.id).invoice_settings
    assert default is not None and default.default_payment_method
    card = stripe_client.v1.payment_methods.retrieve(str(default.default_payment_method)).card
    assert card is not None and card.last4 == "4444"
    webhook.wait_for("customer.updated")
    assert httpx.get(session.url.replace("bps_", "bps_x")).status_code == 404


def test_backdated_subscription_with_anchor_bills_its_first_short_period(
    stripe_env: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    """Started 2 days ago, anchored 3 days ahead: the first invoice, at the anchor, bills
    the usage of those 5 days (including what was reported before it was created)."""
    meter = stripe_client.v1.billing.meters.create(
        params={"display_name": "u", "event_name": "u", "default_aggregation": {"formula": "sum"}}
    )
    product = stripe_client.v1.products.create(params={"name": "u"})
    price = stripe_client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 3,
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )
    customer = stripe_client.v1.customers.create(
        params={
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    now = stripe_env.now()
    for i, at in enumerate((now - 3 * DAY, now - DAY, now - 60)):
        stripe_client.v1.billing.meter_events.create(
            params={
                "event_name": "u",
                "identifier": f"u{i}",
                "timestamp": at,
                "payload": {"stripe_customer_id": customer.id, "value": "10"},
            }
        )
    with pytest.raises(stripe.InvalidRequestError) as err:
        stripe_client.v1.subscriptions.create(
            params={
                "customer": customer.id,
                "items": [{"price": price.id}],
                "billing_cycle_anchor": now + 40 * DAY,
            }
        )
    assert err.value.param == "billing_cycle_anchor"
    sub = stripe_client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": price.id}],
            "backdate_start_date": now - 2 * DAY,
            "billing_cycle_anchor": now + 3 * DAY,
        }
    )
    assert sub.start_date == now - 2 * DAY and sub.billing_cycle_anchor == now + 3 * DAY
    item = sub["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (now - 2 * DAY, now + 3 * DAY)
    stripe_env.advance(3 * DAY + 60)
    invoice = stripe_client.v1.invoices.list(params={"subscription": sub.id}).data[0]
    assert invoice.billing_reason == "subscription_cycle"
    assert (invoice.period_start, invoice.period_end) == (now - 2 * DAY, now + 3 * DAY)
    [line] = invoice.lines.data
    assert (line.quantity, line.amount) == (20, 60)  # the event 3 days ago is before the start
    renewed = stripe_client.v1.subscriptions.retrieve(sub.id)["items"].data[0]
    assert renewed.current_period_start == now + 3 * DAY
    assert renewed.current_period_end > now + 30 * DAY
