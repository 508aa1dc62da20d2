"""Webhook endpoints: signed deliveries, retries with backoff, event filters, redelivery."""

from __future__ import annotations

import json

import pytest
import stripe

from tests.fixtures.stripe import StripeEmulator, WebhookReceiver
from tests.support.poll import eventually


def test_endpoint_crud_and_secret_only_on_create(stripe_client: stripe.StripeClient) -> None:
    endpoint = stripe_client.v1.webhook_endpoints.create(
        params={
            "url": "http://127.0.0.1:9/hook",
            "enabled_events": ["invoice.paid"],
            "metadata": {"env": "dev"},
        }
    )
    assert endpoint.secret and endpoint.secret.startswith("whsec_")
    fetched = stripe_client.v1.webhook_endpoints.retrieve(endpoint.id)
    assert "secret" not in fetched and fetched.enabled_events == ["invoice.paid"]
    updated = stripe_client.v1.webhook_endpoints.update(endpoint.id, params={"disabled": True})
    assert updated.status == "disabled"
    assert [e.id for e in stripe_client.v1.webhook_endpoints.list().data] == [endpoint.id]
    gone = stripe_client.v1.webhook_endpoints.delete(endpoint.id)
    assert gone.deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.webhook_endpoints.create(
            params={"url": "not a url", "enabled_events": ["*"]}
        )


def test_signature_verifies_and_tampering_fails(
    webhook: WebhookReceiver, stripe_client: stripe.StripeClient
) -> None:
    customer = stripe_client.v1.customers.create(params={"email": "sig@example.com"})
    [event] = webhook.wait_for("customer.created")
    assert event.data.object["id"] == customer.id
    delivery = webhook.deliveries[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(delivery.body + b" ", delivery.signature, webhook.secret)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(delivery.body, delivery.signature, "whsec_wrong")
    body = json.loads(delivery.body)
    assert body["request"]["id"].startswith("req_") and body["api_version"]


def test_enabled_events_filter(
    stripe_client: stripe.StripeClient, webhook_receiver: WebhookReceiver
) -> None:
    endpoint = stripe_client.v1.webhook_endpoints.create(
        params={"url": webhook_receiver.url, "enabled_events": ["product.created"]}
    )
    webhook_receiver.secret = endpoint.secret or ""
    stripe_client.v1.customers.create()
    stripe_client.v1.products.create(params={"name": "only me"})
    webhook_receiver.wait_for("product.created")
    assert {e.type for e in webhook_receiver.events()} == {"product.created"}


def test_retry_after_500_then_success(
    stripe_env: StripeEmulator, webhook: WebhookReceiver, stripe_client: stripe.StripeClient
) -> None:
    webhook.statuses.extend([500, 500])
    customer = stripe_client.v1.customers.create()
    [event] = webhook.wait_for("customer.created", timeout=10)
    # The emulator records an attempt once it has read our answer: a moment after we saw it.
    attempts = eventually(
        lambda: stripe_env.deliveries(event=event.id),
        until=lambda rows: len(rows) >= 3,
        timeout=5,
        what="the third attempt recorded",
        interval=0.05,
    )
    assert [a["status"] for a in attempts] == [500, 500, 200]
    assert attempts[1]["at"] - attempts[0]["at"] >= 0.15  # the configured backoff
    assert attempts[2]["at"] - attempts[1]["at"] >= 0.35
    assert stripe_client.v1.events.retrieve(event.id).pending_webhooks == 0
    assert event.data.object["id"] == customer.id


def test_failed_deliveries_show_in_events_list(
    stripe_env: StripeEmulator, webhook: WebhookReceiver, stripe_client: stripe.StripeClient
) -> None:
    webhook.statuses.extend([503] * 4)  # every attempt of the first event fails
    stripe_client.v1.customers.create()
    webhook.wait_for("customer.created", timeout=10, accepted_only=False, count=4)
    failed = stripe_client.v1.events.list(params={"delivery_success": False})
    assert [e.type for e in failed.data] == ["customer.created"]
    assert failed.data[0].pending_webhooks == 1
    stripe_client.v1.products.create(params={"name": "p"})
    webhook.wait_for("product.created")
    # The emulator records the delivery once it has read our answer: a moment after we saw it.
    delivered = eventually(
        lambda: stripe_client.v1.events.list(params={"delivery_success": True}).data,
        until=lambda data: bool(data),
        timeout=5,
        what="the delivery recorded",
        interval=0.05,
    )
    assert [e.type for e in delivered] == ["product.created"]
    # An operator redelivers the failed one; now it succeeds and nothing is pending.
    stripe_env.admin.post(f"/_admin/events/{failed.data[0].id}/redeliver")
    webhook.wait_for("customer.created")
    eventually(
        lambda: stripe_client.v1.events.list(params={"delivery_success": False}).data,
        until=lambda data: data == [],
        timeout=5,
        what="no pending events",
        interval=0.05,
    )


def test_receiver_down_is_retried(
    stripe_env: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    endpoint = stripe_client.v1.webhook_endpoints.create(
        params={"url": "http://127.0.0.1:9/nobody-listens", "enabled_events": ["*"]}
    )
    stripe_client.v1.customers.create()
    attempts = eventually(
        lambda: stripe_env.deliveries(endpoint=endpoint.id),
        until=lambda rows: len(rows) >= 4,
        timeout=10,
        what="all attempts",
        interval=0.05,
    )
    assert all(a["status"] is None and a["error"] for a in attempts)


def test_events_list_filters(stripe_client: stripe.StripeClient) -> None:
    stripe_client.v1.customers.create()
    product = stripe_client.v1.products.create(params={"name": "p"})
    stripe_client.v1.products.update(product.id, params={"name": "q"})
    types = [e.type for e in stripe_client.v1.events.list(params={"type": "product.*"}).data]
    assert types == ["product.updated", "product.created"]
    both = stripe_client.v1.events.list(params={"types": ["customer.created", "product.updated"]})
    assert {e.type for e in both.data} == {"customer.created", "product.updated"}
    updated = stripe_client.v1.events.list(params={"type": "product.updated"}).data[0]
    assert updated.data.previous_attributes["name"] == "p"
