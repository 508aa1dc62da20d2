"""Stripe object shapes: blank objects of each kind and their rendering to JSON.

Every builder returns every field the current API returns for its kind (checked against
Stripe's fixtures by the conformance test), with the values a fresh test-mode object has.
Rendering inlines what Stripe always inlines (a subscription's items, an item's price and
plan) and applies ``expand[]``.
"""

from __future__ import annotations

import copy
from typing import Any

from devstack.stripe.errors import StripeError
from devstack.stripe.store import Obj, Store, kind_of, new_id

ADDRESS_NULL: dict[str, str | None] = {
    "city": None,
    "country": None,
    "line1": None,
    "line2": None,
    "postal_code": None,
    "state": None,
}


def public(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def customer(created: int, *, test_clock: str | None = None) -> Obj:
    return {
        "id": new_id("cus", 14),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": created,
        "currency": None,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": None,
        "invoice_prefix": new_id("x", 8)[2:].upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": None,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": test_clock,
    }


def product(created: int) -> Obj:
    return {
        "id": new_id("prod", 14),
        "object": "product",
        "active": True,
        "created": created,
        "default_price": None,
        "description": None,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": {},
        "name": "",
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": created,
        "url": None,
    }


def price(created: int) -> Obj:
    return {
        "id": new_id("price"),
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": "usd",
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": "",
        "recurring": None,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time",
        "unit_amount": None,
        "unit_amount_decimal": None,
    }


def plan_of(price_obj: Obj) -> Obj:
    """The legacy ``plan`` view of a recurring price, which items still carry."""
    recurring = price_obj.get("recurring") or {}
    return {
        "id": price_obj["id"],
        "object": "plan",
        "active": price_obj["active"],
        "amount": price_obj["unit_amount"],
        "amount_decimal": price_obj["unit_amount_decimal"],
        "billing_scheme": price_obj["billing_scheme"],
        "created": price_obj["created"],
        "currency": price_obj["currency"],
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count"),
        "livemode": False,
        "metadata": price_obj["metadata"],
        "meter": recurring.get("meter"),
        "nickname": price_obj["nickname"],
        "product": price_obj["product"],
        "tiers_mode": price_obj["tiers_mode"],
        "transform_usage": None,
        "trial_period_days": recurring.get("trial_period_days"),
        "usage_type": recurring.get("usage_type"),
    }


def subscription(created: int, customer_id: str, currency: str, test_clock: str | None) -> Obj:
    return {
        "id": new_id("sub"),
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": created,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"type": "classic", "flexible": None},
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "customer": customer_id,
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {
            "account_tax_ids": None,
            "custom_fields": None,
            "description": None,
            "footer": None,
            "issuer": {"type": "self"},
        },
        "latest_invoice": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": created,
        "status": "incomplete",
        "test_clock": test_clock,
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
        "_items": [],
        "_pending": [],
    }


def subscription_item(
    created: int, subscription_id: str, price_id: str, quantity: int | None, start: int, end: int
) -> Obj:
    return {
        "id": new_id("si", 14),
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": created,
        "current_period_end": end,
        "current_period_start": start,
        "discounts": [],
        "metadata": {},
        "price": price_id,
        "quantity": quantity,
        "subscription": subscription_id,
        "tax_rates": [],
    }


def invoice(created: int, customer_obj: Obj, subscription_id: str | None, reason: str) -> Obj:
    invoice_id = new_id("in")
    return {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Tenantry devstack",
        "account_tax_ids": None,
        "amount_due": 0,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": True,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": reason,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": "usd",
        "custom_fields": None,
        "customer": customer_obj["id"],
        "customer_account": None,
        "customer_address": customer_obj.get("address"),
        "customer_email": customer_obj.get("email"),
        "customer_name": customer_obj.get("name"),
        "customer_phone": customer_obj.get("phone"),
        "customer_shipping": customer_obj.get("shipping"),
        "customer_tax_exempt": customer_obj.get("tax_exempt", "none"),
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "due_date": None,
        "effective_at": None,
        "ending_balance": None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "parent": (
            {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"metadata": {}, "subscription": subscription_id},
            }
            if subscription_id
            else None
        ),
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": created,
        "period_start": created,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subscription": subscription_id,
        "subtotal": 0,
        "subtotal_excluding_tax": 0,
        "test_clock": customer_obj.get("test_clock"),
        "total": 0,
        "total_discount_amounts": [],
        "total_excluding_tax": 0,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": None,
    }


def invoice_line(
    invoice_id: str,
    *,
    amount: int,
    currency: str,
    description: str,
    start: int,
    end: int,
    quantity: int | None,
    price_obj: Obj,
    subscription_id: str | None,
    item_id: str | None,
    proration: bool = False,
    metadata: dict[str, str] | None = None,
) -> Obj:
    return {
        "id": new_id("il"),
        "object": "line_item",
        "amount": amount,
        "currency": currency,
        "description": description,
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice_id,
        "livemode": False,
        "metadata": metadata or {},
        "parent": {
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": subscription_id,
                "subscription_item": item_id,
            },
        },
        "period": {"end": end, "start": start},
        "pretax_credit_amounts": [],
        "pricing": {
            "type": "price_details",
            "price_details": {"price": price_obj["id"], "product": price_obj["product"]},
            "unit_amount_decimal": price_obj["unit_amount_decimal"],
        },
        "quantity": quantity,
        "quantity_decimal": None if quantity is None else str(quantity),
        "subscription": subscription_id,
        "subtotal": amount,
        "taxes": [],
    }


def checkout_session(created: int, public_url: str) -> Obj:
    session_id = "cs_test_" + new_id("x", 58)[2:]
    return {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": None,
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": 0,
        "amount_total": 0,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": None,
        "client_reference_id": None,
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": created,
        "currency": "usd",
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": None,
        "customer_account": None,
        "customer_creation": None,
        "customer_details": None,
        "customer_email": None,
        "discounts": [],
        "expires_at": created + 86400,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": None,
        "livemode": False,
        "locale": None,
        "managed_payments": None,
        "metadata": {},
        "mode": "subscription",
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "always",
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": None,
        "subscription": None,
        "success_url": None,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": f"{public_url}/checkout/{session_id}",
        "wallet_options": None,
        "_line_items": [],
    }


def setup_intent(created: int, customer_id: str | None) -> Obj:
    intent_id = new_id("seti")
    return {
        "id": intent_id,
        "object": "setup_intent",
        "application": None,
        "automatic_payment_methods": None,
        "cancellation_reason": None,
        "client_secret": f"{intent_id}_secret_{new_id('x', 24)[2:]}",
        "created": created,
        "customer": customer_id,
        "description": None,
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "livemode": False,
        "mandate": None,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "single_use_mandate": None,
        "status": "requires_payment_method",
        "usage": "off_session",
    }


def billing_portal_session(
    created: int, public_url: str, customer_id: str, return_url: str | None
) -> Obj:
    session_id = new_id("bps")
    return {
        "id": session_id,
        "object": "billing_portal.session",
        "configuration": "bpc_" + new_id("x", 24)[2:],
        "created": created,
        "customer": customer_id,
        "flow": None,
        "livemode": False,
        "locale": None,
        "on_behalf_of": None,
        "return_url": return_url,
        "url": f"{public_url}/billing_portal/{session_id}",
    }


def checkout_item(price_obj: Obj, product_obj: Obj | None, quantity: int | None) -> Obj:
    qty = quantity if quantity is not None else 1
    amount = (price_obj["unit_amount"] or 0) * qty
    metered = (price_obj.get("recurring") or {}).get("usage_type") == "metered"
    return {
        "id": new_id("li"),
        "object": "item",
        "adjustable_quantity": None,
        "amount_discount": 0,
        "amount_subtotal": 0 if metered else amount,
        "amount_tax": 0,
        "amount_total": 0 if metered else amount,
        "currency": price_obj["currency"],
        "description": product_obj["name"] if product_obj else None,
        "metadata": {},
        "price": price_obj["id"],
        "quantity": None if metered else qty,
    }


def meter(created: int) -> Obj:
    return {
        "id": "mtr_test_" + new_id("x", 32)[2:],
        "object": "billing.meter",
        "created": created,
        "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
        "default_aggregation": {"formula": "sum"},
        "display_name": "",
        "event_name": "",
        "event_time_window": None,
        "livemode": False,
        "status": "active",
        "status_transitions": {"deactivated_at": None},
        "updated": created,
        "value_settings": {"event_payload_key": "value"},
    }


def webhook_endpoint(created: int) -> Obj:
    return {
        "id": new_id("we"),
        "object": "webhook_endpoint",
        "api_version": None,
        "application": None,
        "created": created,
        "description": None,
        "enabled_events": [],
        "livemode": False,
        "metadata": {},
        "status": "enabled",
        "url": "",
        "_secret": "whsec_" + new_id("x", 32)[2:],
    }


def test_clock(created: int, frozen_time: int, name: str | None) -> Obj:
    return {
        "id": new_id("clock"),
        "object": "test_helpers.test_clock",
        "created": created,
        "deletes_after": created + 30 * 86400,
        "frozen_time": frozen_time,
        "livemode": False,
        "name": name,
        "status": "ready",
        "status_details": {},
    }


def payment_method(created: int, card_number: str, exp_month: int, exp_year: int) -> Obj:
    brand = {"4": "visa", "5": "mastercard", "3": "amex"}.get(card_number[:1], "unknown")
    return {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": dict(ADDRESS_NULL),
            "email": None,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        "card": {
            "brand": brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "pass",
            },
            "country": "US",
            "display_brand": brand,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": new_id("x", 16)[2:],
            "funding": "credit",
            "generated_from": None,
            "last4": card_number[-4:],
            "networks": {"available": [brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": created,
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
        "_number": card_number,
    }


# -- rendering ---------------------------------------------------------------------------


def render(store: Store, kind: str, obj: Obj) -> Obj:
    """The JSON Stripe returns for a stored object (always-inlined parts included)."""
    out = copy.deepcopy(public(obj))
    if kind == "subscription_item":
        price_obj = store.find("price", obj["price"])
        if price_obj is not None:
            out["price"] = public(copy.deepcopy(price_obj))
            out["plan"] = plan_of(price_obj)
    elif kind == "subscription":
        items = [store.find("subscription_item", i) for i in obj["_items"]]
        out["items"] = {
            "object": "list",
            "data": [render(store, "subscription_item", i) for i in items if i is not None],
            "has_more": False,
            "total_count": len(items),
            "url": f"/v1/subscription_items?subscription={obj['id']}",
        }
    elif kind == "checkout.session":
        pass
    return out


def render_id(store: Store, object_id: str) -> Obj | None:
    kind = kind_of(object_id)
    if kind is None:
        return None
    obj = store.find(kind, object_id)
    return render(store, kind, obj) if obj is not None else None


def checkout_line_items(store: Store, session: Obj) -> Obj:
    data = []
    for item in session["_line_items"]:
        rendered = copy.deepcopy(item)
        price_obj = store.find("price", item["price"])
        if price_obj is not None:
            rendered["price"] = public(copy.deepcopy(price_obj))
        data.append(rendered)
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "url": f"/v1/checkout/sessions/{session['id']}/line_items",
    }


def invoice_payments(store: Store, invoice_obj: Obj) -> Obj:
    """``invoice.payments``: included only on request, as in API versions since basil."""
    data = [
        public(copy.deepcopy(store.get("invoice_payment", p)))
        for p in invoice_obj.get("_payments", [])
    ]
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "url": f"/v1/invoice_payments?invoice={invoice_obj['id']}",
    }


def expand(store: Store, out: Obj, paths: list[str], source: Obj | None = None) -> Obj:
    """Applies ``expand[]`` paths (``customer``, ``data.subscription``, ``line_items``...)."""
    for path in paths:
        parts = path.split(".")
        if len(parts) > 4:
            raise StripeError(
                "You cannot expand more than 4 levels of a property. Property: " + path,
                param="expand",
            )
        _expand_path(store, out, parts, path, source)
    return out


def _expand_path(store: Store, node: Any, parts: list[str], full: str, source: Obj | None) -> None:
    if not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    if head == "data" and node.get("object") == "list":
        for element in node.get("data", []):
            _expand_path(store, element, rest, full, None)
        return
    if head == "line_items" and node.get("object") == "checkout.session" and not rest:
        session = store.find("checkout.session", node["id"])
        if session is not None:
            node["line_items"] = checkout_line_items(store, session)
        return
    if head == "payments" and node.get("object") == "invoice" and "payments" not in node:
        invoice_obj = store.find("invoice", node["id"])
        if invoice_obj is not None:
            node["payments"] = invoice_payments(store, invoice_obj)
    if head not in node:
        raise StripeError(f"This property cannot be expanded ({full}).", param="expand")
    value = node[head]
    if isinstance(value, str):
        expanded = render_id(store, value)
        if expanded is None:
            raise StripeError(f"This property cannot be expanded ({full}).", param="expand")
        node[head] = expanded
        value = expanded
    if rest:
        _expand_path(store, value, rest, full, None)
