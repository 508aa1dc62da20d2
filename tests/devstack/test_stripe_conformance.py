"""Every object kind the emulator serves has every field of Stripe's fixture, same JSON type.

The reference is Stripe's own `fixtures3.json` (one example object per kind). A field
the fixture shows as an object may be null here only where Stripe's API documents it as
nullable and a fresh test-mode object has it unset (listed in NULLABLE with the reason);
everything else must match in type, recursively, including the first element of lists.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe

from tests.devstack.test_stripe_checkout import make_price, make_session, pay_on_page
from tests.fixtures.stripe import StripeEmulator, WebhookReceiver
from tests.support.specs import spec_path

# Nullable in Stripe's API and null on a fresh test-mode object (the fixture shows examples).
NULLABLE: set[str] = {
    # customer
    "customer.address",
    "customer.discount",
    "customer.invoice_settings.rendering_options",
    "customer.shipping",
    # product
    "product.default_price",
    "product.description",
    "product.package_dimensions",
    # price
    "price.custom_unit_amount",
    "price.transform_quantity",
    # checkout.session
    "checkout.session.after_expiration",
    "checkout.session.automatic_tax.liability",
    "checkout.session.consent",
    "checkout.session.consent_collection",
    "checkout.session.custom_text.after_submit",
    "checkout.session.custom_text.shipping_address",
    "checkout.session.custom_text.submit",
    "checkout.session.custom_text.terms_of_service_acceptance",
    "checkout.session.invoice_creation",
    "checkout.session.payment_intent",
    "checkout.session.payment_method_configuration_details",
    "checkout.session.saved_payment_method_options",
    "checkout.session.shipping_address_collection",
    "checkout.session.shipping_cost",
    "checkout.session.url",
    "checkout.session.adaptive_pricing",
    "checkout.session.collected_information",
    "checkout.session.permissions",
    "checkout.session.wallet_options",
    "checkout.session.currency_conversion",
    "checkout.session.managed_payments",
    # subscription
    "subscription.automatic_tax.liability",
    "subscription.billing_cycle_anchor_config",
    "subscription.cancel_at",
    "subscription.canceled_at",
    "subscription.ended_at",
    "subscription.items.data[].price.custom_unit_amount",
    "subscription.items.data[].price.transform_quantity",
    "subscription.items.data[].plan.transform_usage",
    "subscription.items.data[].billing_thresholds",
    "subscription.next_pending_invoice_item_invoice",
    "subscription.pause_collection",
    "subscription.payment_settings.payment_method_options",
    "subscription.pending_invoice_item_interval",
    "subscription.pending_update",
    "subscription.transfer_data",
    "subscription.trial_end",
    "subscription.trial_start",
    "subscription.billing_thresholds",
    "subscription.billing_mode.flexible",
    "subscription.managed_payments",
    # subscription_item
    "subscription_item.price.custom_unit_amount",
    "subscription_item.price.transform_quantity",
    "subscription_item.plan.transform_usage",
    "subscription_item.billing_thresholds",
    # invoice
    "invoice.automatic_tax.liability",
    "invoice.customer_address",
    "invoice.customer_shipping",
    "invoice.due_date",
    "invoice.from_invoice",
    "invoice.last_finalization_error",
    "invoice.lines.data[].parent.invoice_item_details",
    "invoice.lines.data[].parent.subscription_item_details.proration_details.credited_items",
    "invoice.next_payment_attempt",
    "invoice.payment_settings.payment_method_options",
    "invoice.rendering",
    "invoice.shipping_cost",
    "invoice.shipping_details",
    "invoice.parent.quote_details",
    # webhook_endpoint
    "webhook_endpoint.description",
    # payment_intent (of a paid invoice: no automatic methods, error, action or shipping)
    "payment_intent.automatic_payment_methods",
    "payment_intent.canceled_at",
    "payment_intent.last_payment_error",
    "payment_intent.managed_payments",
    "payment_intent.next_action",
    "payment_intent.payment_method_configuration_details",
    "payment_intent.processing",
    "payment_intent.shipping",
    "payment_intent.transfer_data",
    # refund (of an invoice's PaymentIntent: the emulator keeps no Charge objects)
    "refund.charge",
}

# Polymorphic fields: their shape depends on what they hold, not on the kind.
SKIP = {"event.data.object", "event.data.previous_attributes"}


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", dict: "object", list: "array"}.get(type(value), "null")


def mismatches(kind: str, fixture: Any, ours: Any, path: str = "") -> list[str]:
    where = f"{kind}{path}"
    if where in SKIP or fixture is None:
        return []
    if ours is None:
        return [] if where in NULLABLE else [f"{where}: null, fixture has {_type(fixture)}"]
    if isinstance(fixture, dict) and isinstance(ours, str) and "id" in fixture:
        return []  # an expandable reference, not expanded
    if _type(fixture) != _type(ours):
        return [f"{where}: {_type(ours)}, fixture has {_type(fixture)}"]
    problems: list[str] = []
    if isinstance(fixture, dict):
        for key, value in fixture.items():
            if key not in ours:
                problems.append(f"{where}.{key}: missing")
            else:
                problems += mismatches(kind, value, ours[key], f"{path}.{key}")
    elif isinstance(fixture, list) and fixture and ours:
        problems += mismatches(kind, fixture[0], ours[0], f"{path}[]")
    return problems


def raw(obj: stripe.StripeObject) -> dict[str, Any]:
    response = obj.last_response
    assert response is not None
    return dict(json.loads(response.body))


@pytest.fixture
def samples(
    stripe_env: StripeEmulator, stripe_client: stripe.StripeClient, webhook: WebhookReceiver
) -> dict[str, dict[str, Any]]:
    """One real emulator response per kind, fetched through the official client."""
    c = stripe_client
    out: dict[str, dict[str, Any]] = {}
    clock = c.v1.test_helpers.test_clocks.create(params={"frozen_time": stripe_env.now()})
    out["test_helpers.test_clock"] = raw(c.v1.test_helpers.test_clocks.retrieve(clock.id))
    meter = c.v1.billing.meters.create(
        params={
            "display_name": "Pod hours",
            "event_name": "pod_hours",
            "default_aggregation": {"formula": "sum"},
        }
    )
    out["billing.meter"] = raw(c.v1.billing.meters.retrieve(meter.id))
    price = make_price(c, 2900)
    out["price"] = raw(c.v1.prices.retrieve(price.id))
    out["product"] = raw(c.v1.products.retrieve(str(price.product)))
    session = make_session(c, price)
    assert session.url and pay_on_page(session.url, "4242424242424242").status_code == 303
    out["checkout.session"] = raw(c.v1.checkout.sessions.retrieve(session.id))
    customer_id = out["checkout.session"]["customer"]
    out["customer"] = raw(c.v1.customers.retrieve(customer_id))
    sub = c.v1.subscriptions.retrieve(out["checkout.session"]["subscription"])
    out["subscription"] = raw(sub)
    item_id = out["subscription"]["items"]["data"][0]["id"]
    out["subscription_item"] = raw(c.v1.subscription_items.retrieve(item_id))
    out["invoice"] = raw(c.v1.invoices.retrieve(str(sub.latest_invoice)))
    payment = c.v1.invoice_payments.list(params={"invoice": str(sub.latest_invoice)}).data[0]
    out["invoice_payment"] = raw(c.v1.invoice_payments.retrieve(payment.id))
    intent_id = out["invoice_payment"]["payment"]["payment_intent"]
    out["payment_intent"] = raw(c.v1.payment_intents.retrieve(intent_id))
    refund = c.v1.refunds.create(params={"payment_intent": intent_id, "amount": 100})
    out["refund"] = raw(c.v1.refunds.retrieve(refund.id))
    now = stripe_env.now()
    event = c.v1.billing.meter_events.create(
        params={
            "event_name": "pod_hours",
            "timestamp": now,
            "payload": {"stripe_customer_id": customer_id, "value": "3"},
        }
    )
    out["billing.meter_event"] = raw(event)
    hour = now // 3600 * 3600
    summaries = c.v1.billing.meters.event_summaries.list(
        meter.id,
        params={"customer": customer_id, "start_time": hour, "end_time": hour + 3600},
    )
    out["billing.meter_event_summary"] = raw(summaries)["data"][0]
    events = c.v1.events.list(params={"type": "checkout.session.completed"})
    out["event"] = raw(c.v1.events.retrieve(events.data[0].id))
    endpoint = c.v1.webhook_endpoints.list().data[0]
    out["webhook_endpoint"] = raw(c.v1.webhook_endpoints.retrieve(endpoint.id))
    out["list"] = raw(c.v1.customers.list())
    extra = c.v1.subscription_items.create(
        params={"subscription": sub.id, "price": make_price(c, 100).id, "quantity": 1}
    )
    out["deleted_subscription_item"] = raw(c.v1.subscription_items.delete(extra.id))
    out["deleted_webhook_endpoint"] = raw(c.v1.webhook_endpoints.delete(endpoint.id))
    out["deleted_test_helpers.test_clock"] = raw(c.v1.test_helpers.test_clocks.delete(clock.id))
    out["deleted_customer"] = raw(c.v1.customers.delete(c.v1.customers.create().id))
    lonely = c.v1.products.create(params={"name": "no prices"})
    out["deleted_product"] = raw(c.v1.products.delete(lonely.id))
    return out


KINDS = [
    "customer",
    "product",
    "price",
    "checkout.session",
    "subscription",
    "subscription_item",
    "invoice",
    "invoice_payment",
    "payment_intent",
    "refund",
    "billing.meter",
    "billing.meter_event",
    "billing.meter_event_summary",
    "event",
    "webhook_endpoint",
    "test_helpers.test_clock",
    "deleted_customer",
    "deleted_subscription_item",
    "deleted_webhook_endpoint",
    "deleted_test_helpers.test_clock",
    "deleted_product",
]


def test_every_kind_matches_stripe_fixtures(samples: dict[str, dict[str, Any]]) -> None:
    fixtures = json.loads(spec_path("stripe-fixtures3.json").read_text())["resources"]
    problems: list[str] = []
    for kind in KINDS:
        ours = samples[kind]
        expected_object = fixtures[kind]["object"]
        if ours.get("object") != expected_object:
            problems.append(f"{kind}: object is {ours.get('object')!r}")
        problems += mismatches(kind, fixtures[kind], ours)
    list_fixture = {"object": "list", "data": [], "has_more": False, "url": "/v1/customers"}
    problems += mismatches("list", list_fixture, samples["list"])
    assert not problems, "\n".join(problems)
