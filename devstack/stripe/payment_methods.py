"""Stripe's test PaymentMethods (``pm_card_visa``...) and attaching a card to a customer.

In test mode Stripe takes these fixed IDs wherever a PaymentMethod ID goes; each use makes
a fresh ``pm_...`` for that card number. Attaching checks the card: a card that declines
every charge is refused with the charge's error, except 4000 0000 0000 0341
(``pm_card_chargeCustomerFail``), which attaches and then fails each charge (Stripe's
testing docs). Numbers and declines live in :mod:`devstack.stripe.cards`.
"""

from __future__ import annotations

from devstack.stripe import objects
from devstack.stripe.cards import DECLINES
from devstack.stripe.errors import StripeError
from devstack.stripe.store import Obj, Store

TEST_PAYMENT_METHODS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex": "378282246310005",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeCustomerFail": "4000000000000341",
}
ATTACHES_THEN_FAILS = "4000000000000341"


def resolve(store: Store, ref: str, param: str, now: int) -> Obj:
    """The PaymentMethod ``ref`` names: a stored one, or a fresh one for a test ID."""
    number = TEST_PAYMENT_METHODS.get(ref)
    if number is None:
        return store.get("payment_method", ref, param)
    return store.add("payment_method", objects.payment_method(now, number, 12, 2034))


def attach(store: Store, ref: str, customer_id: str, param: str, now: int) -> Obj:
    """Attaches the card to the customer, refusing it as Stripe does (see module doc)."""
    pm = resolve(store, ref, param, now)
    if pm["customer"] not in (None, customer_id):
        raise StripeError(
            "The payment method you provided has already been attached to a customer.",
            param=param,
        )
    number = pm.get("_number", "")
    decline = DECLINES.get(number)
    if decline is not None and number != ATTACHES_THEN_FAILS:
        raise StripeError(
            decline.message,
            status=402,
            type="card_error",
            code=decline.code,
            decline_code=decline.decline_code,
            param=param,
        )
    pm["customer"] = customer_id
    return pm
