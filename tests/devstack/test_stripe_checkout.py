"""Checkout in subscription mode, paid on the hosted page as a browser would pay it."""

from __future__ import annotations

import re

import httpx
import pytest
import stripe

from tests.fixtures.stripe import StripeEmulator, WebhookReceiver


def make_price(client: stripe.StripeClient, amount: int = 2900, **recurring: str) -> stripe.Price:
    product = client.v1.products.create(params={"name": "Tenantry starter"})
    return client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": amount,
            "recurring": {"interval": "month", **recurring},
        }
    )


def make_session(
    client: stripe.StripeClient, *prices: stripe.Price, **extra: object
) -> stripe.checkout.Session:
    return client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": p.id, "quantity": 1} for p in prices],
            "success_url": "http://127.0.0.1:9/paid?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://127.0.0.1:9/cancelled",
            "client_reference_id": "signup-42",
            "metadata": {"signup_id": "42"},
            "subscription_data": {"metadata": {"subdomain": "acme"}},
            **extra,
        }
    )


def pay_on_page(url: str, card: str, email: str = "ada@example.com") -> httpx.Response:
    """Loads the hosted page, reads its form, and submits it like a browser."""
    with httpx.Client(follow_redirects=False, timeout=10) as http:
        page = http.get(url)
        assert page.status_code == 200
        assert "card_number" in page.text
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action is not None
        return http.post(
            httpx.URL(url).join(action.group(1)),
            data={
                "email": email,
                "card_number": card,
                "card_expiry": "12 / 34",
                "card_cvc": "123",
                "billing_name": "Ada Lovelace",
            },
        )


def test_paid_checkout_creates_subscription_invoice_and_signed_event(
    stripe_env: StripeEmulator, stripe_client: stripe.StripeClient, webhook: WebhookReceiver
) -> None:
    base = make_price(stripe_client, 2900)
    addon = make_price(stripe_client, 500)
    session = make_session(stripe_client, base, addon)
    assert session.status == "open" and session.payment_status == "unpaid"
    assert session.url and session.url.startswith(stripe_env.url + "/checkout/")
    assert session.amount_total == 3400

    response = pay_on_page(session.url, "4242 4242 4242 4242")
    assert response.status_code == 303
    assert response.headers["location"] == f"http://127.0.0.1:9/paid?session={session.id}"

    done = stripe_client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["subscription"]}
    )
    assert done.status == "complete" and done.payment_status == "paid"
    sub = done.subscription
    assert isinstance(sub, stripe.Subscription)
    assert sub.status == "active"
    assert sub.metadata.to_dict() == {"subdomain": "acme"}
    assert sorted(i.price.id for i in sub["items"].data) == sorted([base.id, addon.id])
    item = sub["items"].data[0]
    assert item.current_period_end > item.current_period_start

    invoice = stripe_client.v1.invoices.retrieve(str(sub.latest_invoice))
    assert invoice.status == "paid"
    assert invoice.amount_paid == 3400 and invoice.billing_reason == "subscription_create"
    customer = stripe_client.v1.customers.retrieve(str(done.customer))
    assert customer.email == "ada@example.com"

    [event] = webhook.wait_for("checkout.session.completed")
    obj = event.data.object
    assert obj["id"] == session.id
    assert obj["client_reference_id"] == "signup-42"
    assert obj["metadata"].to_dict() == {"signup_id": "42"}
    assert obj["subscription"] == sub.id
    for kind in ("customer.subscription.created", "invoice.paid", "invoice.payment_succeeded"):
        webhook.wait_for(kind)
    assert not webhook.rejected


def test_declined_card_shows_error_and_leaves_session_open(
    stripe_client: stripe.StripeClient,
) -> None:
    session = make_session(stripe_client, make_price(stripe_client))
    assert session.url
    response = pay_on_page(session.url, "4000000000000002")
    assert response.status_code == 402
    assert "Your card was declined." in response.text
    again = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert again.status == "open" and again.subscription is None
    assert stripe_client.v1.subscriptions.list().data == []
    # The customer can try again with a good card.
    assert pay_on_page(session.url, "4242424242424242").status_code == 303


def test_invalid_card_number_is_rejected(stripe_client: stripe.StripeClient) -> None:
    session = make_session(stripe_client, make_price(stripe_client))
    assert session.url
    response = pay_on_page(session.url, "4242424242424241")
    assert response.status_code == 402 and "Your card number is invalid." in response.text


def test_expire_and_list(stripe_client: stripe.StripeClient, webhook: WebhookReceiver) -> None:
    price = make_price(stripe_client)
    first, second = make_session(stripe_client, price), make_session(stripe_client, price)
    expired = stripe_client.v1.checkout.sessions.expire(first.id)
    assert expired.status == "expired" and expired.url is None
    with pytest.raises(stripe.InvalidRequestError) as err:
        stripe_client.v1.checkout.sessions.expire(first.id)
    assert err.value.http_status == 400
    assert first.url and httpx.get(first.url).status_code == 410
    listed = stripe_client.v1.checkout.sessions.list(params={"limit": 1})
    assert [s.id for s in listed.data] == [second.id] and listed.has_more
    webhook.wait_for("checkout.session.expired")
    line_items = stripe_client.v1.checkout.sessions.line_items.list(second.id)
    assert line_items.data[0].price.id == price.id


def test_session_validation(stripe_env: StripeEmulator, stripe_client: stripe.StripeClient) -> None:
    price = make_price(stripe_client)
    with pytest.raises(stripe.InvalidRequestError) as err:
        stripe_client.v1.checkout.sessions.create(params={"mode": "subscription"})
    assert err.value.code == "parameter_missing" and err.value.param == "line_items"
    with pytest.raises(stripe.InvalidRequestError) as err:
        make_session(stripe_client, price, expires_at=stripe_env.now() + 600)
    assert err.value.param == "expires_at"
    with pytest.raises(stripe.InvalidRequestError) as err:
        make_session(stripe_client, price, customer="cus_missing")
    assert err.value.http_status == 404 and err.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as err:
        stripe_client.v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "line_items": [{"price": price.id, "quantity": 1}],
                "bogus": "1",
            }
        )
    assert err.value.code == "parameter_unknown"


def test_auth_requires_a_test_secret_key(stripe_env: StripeEmulator) -> None:
    with pytest.raises(stripe.AuthenticationError) as err:
        stripe_env.client(key="pk_live_nope_12345").v1.customers.list()
    assert err.value.http_status == 401
    assert stripe_env.client(key="sk_test_anything").v1.customers.list().data == []
