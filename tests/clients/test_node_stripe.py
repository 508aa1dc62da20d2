"""The Stripe emulator serves stripe-node, Stripe's official Node library, as Stripe would.

stripe-node encodes form parameters, reads responses and verifies webhook signatures with
its own code: a Checkout session, two subscriptions (a card that pays, one that declines)
and a webhook verified by ``stripe.webhooks.constructEvent``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import stripe

from tests.clients.node import run_node
from tests.fixtures.stripe import API_KEY, StripeEmulator


def test_stripe_node_checkout_subscriptions_and_webhooks(
    stripe_env: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    url = urlsplit(stripe_env.url)
    out = run_node(
        "stripe.mjs",
        {"STRIPE_HOST": str(url.hostname), "STRIPE_PORT": str(url.port), "STRIPE_KEY": API_KEY},
    )
    session = out["session"]
    assert (session["object"], session["mode"], session["status"]) == (
        "checkout.session",
        "subscription",
        "open",
    )
    assert session["url"].startswith(stripe_env.url)
    assert stripe_client.v1.checkout.sessions.retrieve(session["id"]).status == "open"

    assert out["paid"] | {"id": None} == {
        "id": None,
        "status": "active",
        "invoice": "paid",
        "payment_intent": "succeeded",
        "decline": None,
    }
    assert out["declined"] | {"id": None} == {
        "id": None,
        "status": "incomplete",
        "invoice": "open",
        "payment_intent": "requires_payment_method",
        "decline": "card_declined",
    }
    assert stripe_client.v1.subscriptions.retrieve(out["paid"]["id"]).status == "active"

    webhook = out["webhook"]
    assert (webhook["type"], webhook["object"]) == (
        "customer.subscription.created",
        out["paid"]["id"],
    )
    assert webhook["all_verified"] >= 1
    assert webhook["tampered"] == webhook["wrong_secret"] == "StripeSignatureVerificationError"
