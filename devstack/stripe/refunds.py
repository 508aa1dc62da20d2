"""Refunds of a PaymentIntent's payment, as Stripe keeps them.

The emulator charges only invoices (see :mod:`devstack.stripe.payments`), so a refund is
made against a succeeded PaymentIntent; the emulator keeps no Charge objects, so a
refund's ``charge`` is null and ``POST /v1/refunds`` with ``charge`` finds none. The amount
refunded so far is kept on the PaymentIntent (private ``_amount_refunded``), so a refund
can never return more than was received. Shapes follow stripe-fixtures3.json (``refund``).
"""

from __future__ import annotations

from devstack.stripe.errors import StripeError
from devstack.stripe.store import Obj, Store, new_id


def refund(created: int, intent: Obj, amount: int, reason: str | None, metadata: Obj) -> Obj:
    return {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": intent.get("latest_charge"),
        "created": created,
        "currency": intent["currency"],
        "customer": intent.get("customer"),
        "customer_account": None,
        "destination_details": {"card": {"type": "reversal"}, "type": "card"},
        "metadata": metadata,
        "payment_intent": intent["id"],
        "payment_method": intent.get("payment_method"),
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def refundable(intent: Obj) -> int:
    """What is left to refund on a PaymentIntent: received minus refunded."""
    return int(intent["amount_received"]) - int(intent.get("_amount_refunded", 0))


def create(
    store: Store,
    intent: Obj,
    amount: int | None,
    reason: str | None,
    metadata: Obj,
    now: int,
) -> Obj:
    """Refunds `amount` (default: all that is left) of a succeeded PaymentIntent."""
    if intent["status"] != "succeeded":
        raise StripeError(
            f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
            code="charge_not_refundable",
            param="payment_intent",
        )
    left = refundable(intent)
    if left <= 0:
        raise StripeError(
            f"Charge for PaymentIntent {intent['id']} has already been refunded.",
            code="charge_already_refunded",
        )
    if amount is None:
        amount = left
    if amount <= 0:
        raise StripeError(
            "Invalid positive integer", code="parameter_invalid_integer", param="amount"
        )
    if amount > left:
        raise StripeError(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
            param="amount",
        )
    intent["_amount_refunded"] = int(intent.get("_amount_refunded", 0)) + amount
    return store.add("refund", refund(now, intent, amount, reason, metadata))
