"""Invoice payments: the PaymentIntent behind each charge of an invoice, as Stripe keeps them.

Since API version 2025-03-31 (basil) an invoice has no ``payment_intent`` field: its
payments are ``invoice_payment`` objects (``invoice.payments``, present only when asked
for with ``expand[]=payments``), each pointing at a PaymentIntent. Stripe creates the
PaymentIntent when it first charges an invoice and reuses it for every retry: after a
successful charge it is ``succeeded``; after a decline it is ``requires_payment_method``
with ``last_payment_error``, and the invoice stays ``open``. Shapes follow
stripe-fixtures3.json (``payment_intent``, ``invoice_payment``).
"""

from __future__ import annotations

import secrets
from typing import Any

from devstack.stripe.cards import Decline
from devstack.stripe.store import Obj, Store, new_id

DOCS = "https://stripe.com/docs/error-codes"


def payment_intent(created: int, invoice: Obj) -> Obj:
    pi_id = new_id("pi")
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": invoice["amount_remaining"],
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{pi_id}_secret_{secrets.token_urlsafe(18)}",
        "confirmation_method": "automatic",
        "created": created,
        "currency": invoice["currency"],
        "customer": invoice["customer"],
        "customer_account": None,
        "description": "Subscription creation"
        if invoice["billing_reason"] == "subscription_create"
        else "Subscription update",
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": "off_session",
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def invoice_payment(created: int, invoice: Obj, pi_id: str) -> Obj:
    return {
        "id": new_id("inpay"),
        "object": "invoice_payment",
        "amount_paid": None,
        "amount_requested": invoice["amount_remaining"],
        "created": created,
        "currency": invoice["currency"],
        "invoice": invoice["id"],
        "is_default": True,
        "livemode": False,
        "payment": {"type": "payment_intent", "payment_intent": pi_id},
        "status": "open",
        "status_transitions": {"canceled_at": None, "paid_at": None},
    }


class Payments:
    """Records each charge of an invoice on its PaymentIntent and invoice payment."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _intent(self, invoice: Obj, now: int) -> tuple[Obj, Obj]:
        if invoice.get("_payments"):
            payment = self.store.get("invoice_payment", invoice["_payments"][-1])
            return self.store.get("payment_intent", payment["payment"]["payment_intent"]), payment
        intent = self.store.add("payment_intent", payment_intent(now, invoice))
        payment = self.store.add("invoice_payment", invoice_payment(now, invoice, intent["id"]))
        invoice["_payments"] = [payment["id"]]
        return intent, payment

    def succeeded(self, invoice: Obj, pm_id: str | None, now: int) -> None:
        intent, payment = self._intent(invoice, now)
        intent.update(
            status="succeeded",
            payment_method=pm_id,
            amount_received=intent["amount"],
            last_payment_error=None,
        )
        payment.update(status="paid", amount_paid=intent["amount"])
        payment["status_transitions"]["paid_at"] = now

    def failed(self, invoice: Obj, pm_id: str | None, decline: Decline, now: int) -> None:
        intent, _ = self._intent(invoice, now)
        pm = self.store.find("payment_method", pm_id) if pm_id else None
        error: dict[str, Any] = {
            "type": "card_error" if pm is not None else "invalid_request_error",
            "code": decline.code,
            "decline_code": decline.decline_code,
            "message": decline.message,
            "doc_url": f"{DOCS}#{decline.code.replace('_', '-')}",
            "payment_method": {k: v for k, v in pm.items() if not k.startswith("_")}
            if pm is not None
            else None,
        }
        intent.update(
            status="requires_payment_method", payment_method=None, last_payment_error=error
        )

    def of_invoice(self, invoice: Obj) -> list[Obj]:
        return [self.store.get("invoice_payment", p) for p in invoice.get("_payments", [])]
