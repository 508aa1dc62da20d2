"""Subscriptions over time: renewals on test clocks, failed payments, prorations, cancel."""

from __future__ import annotations

import pytest
import stripe

from tests.devstack.test_stripe_checkout import make_price, make_session, pay_on_page
from tests.fixtures.stripe import StripeEmulator, WebhookReceiver
from tests.support.poll import eventually

DAY = 86400


def subscribe(
    client: stripe.StripeClient, *prices: stripe.Price, customer: str | None = None
) -> stripe.Subscription:
    """A subscription paid through the hosted checkout page with the 4242 card."""
    extra = {"customer": customer} if customer else {}
    session = make_session(client, *prices, **extra)
    assert session.url
    assert pay_on_page(session.url, "4242424242424242").status_code == 303
    paid = client.v1.checkout.sessions.retrieve(session.id)
    return client.v1.subscriptions.retrieve(str(paid.subscription))


def advance_clock(client: stripe.StripeClient, clock_id: str, to: int) -> None:
    clock = client.v1.test_helpers.test_clocks.advance(clock_id, params={"frozen_time": to})
    assert clock.status in ("advancing", "ready")
    eventually(
        lambda: client.v1.test_helpers.test_clocks.retrieve(clock_id).status,
        until=lambda status: status == "ready",
        timeout=10,
        what="test clock ready",
        interval=0.05,
    )


def test_test_clock_renewal_then_payment_failure_and_recovery(
    stripe_env: StripeEmulator, stripe_client: stripe.StripeClient, webhook: WebhookReceiver
) -> None:
    start = stripe_env.now()
    clock = stripe_client.v1.test_helpers.test_clocks.create(
        params={"frozen_time": start, "name": "renewals"}
    )
    customer = stripe_client.v1.customers.create(params={"test_clock": clock.id})
    assert customer.test_clock == clock.id
    sub = subscribe(stripe_client, make_price(stripe_client, 2900), customer=customer.id)
    first_end = sub["items"].data[0].current_period_end
    assert first_end > start + 27 * DAY

    advance_clock(stripe_client, clock.id, first_end + 3600)
    invoices = stripe_client.v1.invoices.list(params={"subscription": sub.id}).data
    assert [(i.billing_reason, i.status) for i in invoices] == [
        ("subscription_cycle", "paid"),
        ("subscription_create", "paid"),
    ]
    assert invoices[0].created == first_end and invoices[0].amount_paid == 2900
    renewed = stripe_client.v1.subscriptions.retrieve(sub.id)
    assert renewed["items"].data[0].current_period_start == first_end
    assert renewed.status == "active"

    stripe_env.admin.post(f"/_admin/customers/{customer.id}/payment_behavior", {"fail": True})
    second_end = renewed["items"].data[0].current_period_end
    advance_clock(stripe_client, clock.id, second_end + 60)
    [failed_event] = webhook.wait_for("invoice.payment_failed")
    failed = stripe_client.v1.invoices.retrieve(failed_event.data.object["id"])
    assert failed.status == "open" and failed.attempted and failed.attempt_count == 1
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "past_due"
    with pytest.raises(stripe.CardError) as err:
        stripe_client.v1.invoices.pay(failed.id)
    assert err.value.http_status == 402 and err.value.code == "card_declined"

    stripe_env.admin.post(f"/_admin/customers/{customer.id}/payment_behavior", {"fail": False})
    paid = stripe_client.v1.invoices.pay(failed.id)
    assert paid.status == "paid" and paid.amount_remaining == 0
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "active"
    webhook.wait_for("invoice.paid", count=3)


def test_account_clock_advance_renews_and_bills_metered_usage(
    stripe_env: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    meter = stripe_client.v1.billing.meters.create(
        params={
            "display_name": "Pod hours",
            "event_name": "pod_hours",
            "default_aggregation": {"formula": "sum"},
        }
    )
    flat = make_price(stripe_client, 2900)
    product = stripe_client.v1.products.create(params={"name": "Pod hours"})
    metered = stripe_client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount_decimal": "1.7",
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )
    session = stripe_client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "success_url": "http://127.0.0.1:9/ok",
            "line_items": [{"price": flat.id, "quantity": 1}, {"price": metered.id}],
        }
    )
    assert session.url and pay_on_page(session.url, "4242424242424242").status_code == 303
    session = stripe_client.v1.checkout.sessions.retrieve(session.id)
    now = stripe_env.now()
    for i in range(10):
        stripe_client.v1.billing.meter_events.create(
            params={
                "event_name": "pod_hours",
                "identifier": f"h{i}",
                "timestamp": now,
                "payload": {"stripe_customer_id": str(session.customer), "value": "100"},
            }
        )
    stripe_env.advance(32 * DAY)
    invoices = stripe_client.v1.invoices.list(params={"customer": str(session.customer)}).data
    renewal = invoices[0]
    assert renewal.billing_reason == "subscription_cycle" and renewal.status == "paid"
    amounts = sorted(line.amount for line in renewal.lines.data)
    assert amounts == [1700, 2900]  # 1000 units x 1.7 cents, then the next month ahead


def test_price_change_with_prorations(
    stripe_env: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    starter, pro = make_price(stripe_client, 3000), make_price(stripe_client, 9000)
    sub = subscribe(stripe_client, starter)
    item = sub["items"].data[0]
    half = (item.current_period_end - item.current_period_start) // 2
    updated = stripe_client.v1.subscriptions.update(
        sub.id,
        params={
            "items": [{"id": item.id, "price": pro.id}],
            "proration_behavior": "always_invoice",
            "proration_date": item.current_period_start + half,
            "metadata": {"tier": "pro"},
        },
    )
    assert updated["items"].data[0].price.id == pro.id
    assert updated.metadata["tier"] == "pro"
    invoice = stripe_client.v1.invoices.retrieve(str(updated.latest_invoice))
    assert invoice.billing_reason == "subscription_update" and invoice.status == "paid"
    credit, charge = sorted(line.amount for line in invoice.lines.data)
    assert credit == pytest.approx(-1500, abs=60) and charge == pytest.approx(4500, abs=160)
    assert all(line.parent.subscription_item_details.proration for line in invoice.lines.data)

    none = stripe_client.v1.subscriptions.update(
        sub.id,
        params={
            "items": [{"id": item.id, "price": starter.id}],
            "proration_behavior": "none",
        },
    )
    assert none.latest_invoice == invoice.id
    # create_prorations: pending until the next renewal invoice.
    stripe_client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": item.id, "price": pro.id}]}
    )
    stripe_env.advance(32 * 86400)
    renewal = stripe_client.v1.invoices.list(params={"subscription": sub.id}).data[0]
    assert renewal.billing_reason == "subscription_cycle"
    assert len(renewal.lines.data) == 3


def test_cancel_now_and_at_period_end(
    stripe_env: StripeEmulator, stripe_client: stripe.StripeClient, webhook: WebhookReceiver
) -> None:
    price = make_price(stripe_client)
    first, second = subscribe(stripe_client, price), subscribe(stripe_client, price)
    canceled = stripe_client.v1.subscriptions.cancel(first.id)
    assert canceled.status == "canceled" and canceled.ended_at
    [event] = webhook.wait_for("customer.subscription.deleted")
    assert event.data.object["id"] == first.id
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.subscriptions.cancel(first.id)

    later = stripe_client.v1.subscriptions.update(second.id, params={"cancel_at_period_end": True})
    assert later.cancel_at_period_end and later.cancel_at and later.status == "active"
    stripe_env.advance(32 * 86400)
    assert stripe_client.v1.subscriptions.retrieve(second.id).status == "canceled"
    webhook.wait_for("customer.subscription.deleted", count=2)
    active = stripe_client.v1.subscriptions.list().data
    assert active == []
    assert len(stripe_client.v1.subscriptions.list(params={"status": "all"}).data) == 2


def test_subscription_items_crud(stripe_client: stripe.StripeClient) -> None:
    base, addon = make_price(stripe_client, 2900), make_price(stripe_client, 500)
    sub = subscribe(stripe_client, base)
    item = stripe_client.v1.subscription_items.create(
        params={
            "subscription": sub.id,
            "price": addon.id,
            "quantity": 2,
            "proration_behavior": "none",
            "metadata": {"k": "v"},
        }
    )
    assert item.quantity == 2 and item.price.id == addon.id and item.subscription == sub.id
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.subscription_items.create(
            params={"subscription": sub.id, "price": addon.id}
        )
    item = stripe_client.v1.subscription_items.update(item.id, params={"quantity": 3})
    assert item.quantity == 3
    listed = stripe_client.v1.subscription_items.list(params={"subscription": sub.id})
    assert len(listed.data) == 2
    gone = stripe_client.v1.subscription_items.delete(item.id)
    assert gone.deleted
    only = stripe_client.v1.subscription_items.list(params={"subscription": sub.id}).data
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.subscription_items.delete(only[0].id)


def test_create_subscription_for_customer_with_card(stripe_client: stripe.StripeClient) -> None:
    price = make_price(stripe_client)
    first = subscribe(stripe_client, price)
    again = stripe_client.v1.subscriptions.create(
        params={
            "customer": str(first.customer),
            "items": [{"price": price.id, "quantity": 1}],
            "metadata": {"replaces": first.id},
        }
    )
    assert again.status == "active" and again.metadata["replaces"] == first.id
    bare = stripe_client.v1.customers.create()
    incomplete = stripe_client.v1.subscriptions.create(
        params={"customer": bare.id, "items": [{"price": price.id, "quantity": 1}]}
    )
    assert incomplete.status == "incomplete"
