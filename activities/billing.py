"""Stripe activities for signups and tenants.

Every write carries an idempotency key made from business identity (the signup or
tenant and the step), never from the attempt: a retry after a lost answer, a worker
crash or an operator's workflow reset all get Stripe's first answer back instead of a
second customer or subscription.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import stripe
from temporalio import activity

from activities.errors import from_stripe
from tenantry.contracts.signup import (
    CheckoutClosed,
    CheckoutSessionInput,
    CheckoutSessionRef,
    CreateCustomerInput,
    CustomerRef,
    EnsureSubscriptionInput,
    RefundInput,
    RefundResult,
    SubscriptionRef,
)
from tenantry.contracts.tenant import PriceChangeInput
from tenantry.rules.plans import CURRENCY, TENANT_PLANS, TenantTier

# Stripe accepts Checkout expiry between 30 minutes and 24 hours from creation; the
# workflow's own timer enforces shorter or longer windows.
_MIN_EXPIRY = timedelta(minutes=31)
_MAX_EXPIRY = timedelta(hours=23, minutes=59)


class BillingActivities:
    def __init__(self, client: stripe.StripeClient, *, public_url: str) -> None:
        self._stripe = client
        self._public_url = public_url.rstrip("/")
        self._prices: dict[str, str] = {}
        self._lock = threading.Lock()

    @activity.defn
    def create_customer(self, inp: CreateCustomerInput) -> CustomerRef:
        try:
            customer = self._stripe.v1.customers.create(
                params={
                    "email": inp.email,
                    "description": f"Tenantry tenant {inp.subdomain}",
                    "metadata": {"signup_id": inp.signup_id, "subdomain": inp.subdomain},
                },
                options={"idempotency_key": inp.idempotency_key},
            )
        except stripe.StripeError as exc:
            raise from_stripe(exc, "create the customer") from exc
        return CustomerRef(customer_id=customer.id)

    @activity.defn
    def create_checkout_session(self, inp: CheckoutSessionInput) -> CheckoutSessionRef:
        now = datetime.now(UTC)
        expires_at = min(max(inp.expires_at, now + _MIN_EXPIRY), now + _MAX_EXPIRY)
        metadata = {"signup_id": inp.signup_id, "subdomain": inp.subdomain}
        try:
            session = self._stripe.v1.checkout.sessions.create(
                params={
                    "mode": "subscription",
                    "customer": inp.customer_id,
                    "client_reference_id": inp.signup_id,
                    "line_items": [{"price": self.tier_price(inp.tier), "quantity": 1}],
                    "metadata": metadata,
                    "subscription_data": {"metadata": metadata},
                    "success_url": f"{self._public_url}/v1/signups/{inp.signup_id}/paid",
                    "cancel_url": f"{self._public_url}/v1/signups/{inp.signup_id}/cancelled",
                    "expires_at": int(expires_at.timestamp()),
                },
                options={"idempotency_key": inp.idempotency_key},
            )
        except stripe.StripeError as exc:
            raise from_stripe(exc, "create the checkout session") from exc
        if not session.url:
            raise RuntimeError(f"checkout session {session.id} has no url")
        return CheckoutSessionRef(session_id=session.id, url=session.url)

    @activity.defn
    def close_checkout_session(self, ref: CheckoutSessionRef) -> CheckoutClosed:
        """Expires the session if it is still open; tells whether it was paid.

        A customer who paid in the window's last minutes is charged even if the webhook
        has not arrived: the session (not the webhook) says so. Expiring a session that
        completed meanwhile fails, and the session is read again.
        """
        try:
            session = self._stripe.v1.checkout.sessions.retrieve(ref.session_id)
            if session.status == "open":
                try:
                    session = self._stripe.v1.checkout.sessions.expire(ref.session_id)
                except stripe.InvalidRequestError as exc:
                    if exc.http_status != 400:
                        raise
                    session = self._stripe.v1.checkout.sessions.retrieve(ref.session_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                return CheckoutClosed(paid=False)  # gone: nobody can pay it
            raise from_stripe(exc, "close the checkout session") from exc
        except stripe.StripeError as exc:
            raise from_stripe(exc, "close the checkout session") from exc
        paid = session.status == "complete" and session.payment_status in (
            "paid",
            "no_payment_required",
        )
        if not paid:
            return CheckoutClosed(paid=False)
        return CheckoutClosed(
            paid=True,
            customer_id=_stripe_id(session.customer),
            subscription_id=_stripe_id(session.subscription),
        )

    @activity.defn
    def cancel_subscription_if_present(self, ref: SubscriptionRef) -> bool:
        try:
            subscription = self._stripe.v1.subscriptions.retrieve(ref.subscription_id)
            if subscription.status in ("canceled", "incomplete_expired"):
                return False
            self._stripe.v1.subscriptions.cancel(ref.subscription_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                return False
            raise from_stripe(exc, "cancel the subscription") from exc
        except stripe.StripeError as exc:
            raise from_stripe(exc, "cancel the subscription") from exc
        return True

    @activity.defn
    def refund_latest_payment_if_any(self, inp: RefundInput) -> RefundResult:
        """Refunds the whole of the subscription's latest paid invoice, at most once.

        The invoice reaches its PaymentIntent through `invoice.payments` (API versions
        since basil). A refund already made on that PaymentIntent (an earlier attempt
        whose answer was lost, or a retry after the idempotency key expired) is returned
        instead of refunding again; the create itself carries the workflow's key.
        """
        try:
            paid = self._stripe.v1.invoices.list(
                params={"subscription": inp.subscription_id, "status": "paid", "limit": 1}
            ).data
            if not paid:
                return RefundResult()
            invoice = self._stripe.v1.invoices.retrieve(paid[0].id, params={"expand": ["payments"]})
            intent_id = _paid_intent(invoice)
            if intent_id is None:
                return RefundResult()
            earlier = self._stripe.v1.refunds.list(params={"payment_intent": intent_id}).data
            done = [r for r in earlier if r.status in ("succeeded", "pending")]
            if done:
                first = done[-1]
                return RefundResult(
                    refund_id=first.id,
                    amount=sum(r.amount for r in done),
                    currency=first.currency,
                    payment_intent_id=intent_id,
                )
            refund = self._stripe.v1.refunds.create(
                params={
                    "payment_intent": intent_id,
                    "reason": "requested_by_customer",
                    "metadata": {"subscription": inp.subscription_id},
                },
                options={"idempotency_key": inp.idempotency_key},
            )
        except stripe.StripeError as exc:
            raise from_stripe(exc, "refund the payment") from exc
        return RefundResult(
            refund_id=refund.id,
            amount=refund.amount,
            currency=refund.currency,
            payment_intent_id=intent_id,
        )

    @activity.defn
    def ensure_subscription_active(self, inp: EnsureSubscriptionInput) -> SubscriptionRef:
        """The subscription to provision against: the paid one, or its one replacement."""
        try:
            current = self._stripe.v1.subscriptions.retrieve(inp.subscription_id)
            if current.status in ("active", "trialing", "past_due"):
                return SubscriptionRef(subscription_id=current.id)
            key = f"signup-{inp.subdomain}:{inp.signup_id}:replace:{inp.subscription_id}"
            metadata = {"signup_id": inp.signup_id, "subdomain": inp.subdomain}
            replacement = self._stripe.v1.subscriptions.create(
                params={
                    "customer": inp.customer_id,
                    "items": [{"price": self.tier_price(inp.tier), "quantity": 1}],
                    "metadata": {**metadata, "replaces": inp.subscription_id},
                },
                options={"idempotency_key": key},
            )
        except stripe.StripeError as exc:
            raise from_stripe(exc, "reactivate the subscription") from exc
        return SubscriptionRef(subscription_id=replacement.id, idempotency_key=key)

    @activity.defn
    def change_subscription_price(self, inp: PriceChangeInput) -> str:
        """Moves the subscription's tenant item to the tier's price, prorated; idempotent."""
        price = self.tier_price(inp.tier)
        try:
            subscription = self._stripe.v1.subscriptions.retrieve(inp.subscription_id)
            item = subscription["items"].data[0]
            if item.price.id == price:
                return str(item.id)
            self._stripe.v1.subscriptions.update(
                inp.subscription_id,
                params={
                    "items": [{"id": item.id, "price": price}],
                    "proration_behavior": "create_prorations",
                    "metadata": {"tier": inp.tier},
                },
                options={"idempotency_key": inp.idempotency_key},
            )
        except stripe.StripeError as exc:
            raise from_stripe(exc, "change the subscription's price") from exc
        return str(item.id)

    def tier_price(self, tier: str) -> str:
        """The Stripe price of a tenant tier, created once from `rules.plans` if missing."""
        plan = TENANT_PLANS[TenantTier(tier)]
        key = plan.price_lookup_key
        with self._lock:
            if key in self._prices:
                return self._prices[key]
            found = self._stripe.v1.prices.list(params={"lookup_keys": [key], "active": True})
            if found.data:
                price_id = found.data[0].id
            else:
                product = self._stripe.v1.products.create(
                    params={"name": f"Tenantry {plan.tier.value}", "metadata": {"tier": tier}},
                    options={"idempotency_key": f"catalog:{key}:product"},
                )
                price = self._stripe.v1.prices.create(
                    params={
                        "product": product.id,
                        "currency": CURRENCY,
                        "unit_amount": plan.monthly_cents,
                        "recurring": {"interval": "month"},
                        "lookup_key": key,
                    },
                    options={"idempotency_key": f"catalog:{key}:price"},
                )
                price_id = price.id
            self._prices[key] = price_id
            return price_id


def _paid_intent(invoice: stripe.Invoice) -> str | None:
    """The PaymentIntent of an invoice's paid payment, if it has one."""
    payments = invoice.payments.data if invoice.payments is not None else []
    for payment in payments:
        if payment.status == "paid" and payment.payment.type == "payment_intent":
            return _stripe_id(payment.payment.payment_intent)
    return None


def _stripe_id(value: object) -> str | None:
    """An expandable field's id (a string, an expanded object, or nothing)."""
    if value is None:
        return None
    return str(value) if isinstance(value, str) else str(getattr(value, "id", "")) or None
