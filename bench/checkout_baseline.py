"""The raw baseline of `POST /v1/signups`: the two Stripe calls its answer has to wait for.

The route answers with the Checkout URL, so no implementation can answer before a
Stripe customer and a Checkout session exist. This script makes exactly those two calls
with the parameters and idempotency keys `BillingActivities` sends, through the client
the worker's own factory builds from the worker's settings, in a thread (as the worker
runs its sync Stripe activities). What it leaves out is what the product adds: request
validation, the subdomain check, the workflow's start and its durable signup record.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from activities.billing import BillingActivities
from tenantry.clients.sdk import stripe_client
from tenantry.rules.plans import TenantTier
from tenantry.settings import WorkerSettings

# The product asks for the configured expiry and clamps it to Stripe's bounds (24 h by
# default is clamped to 23 h 59 min); the baseline sends the value the product sends.
EXPIRY = timedelta(hours=23, minutes=59)


class RawCheckout:
    """One Stripe client and the tier's price, looked up once (the worker caches it too)."""

    def __init__(self, settings: WorkerSettings, tier: TenantTier = TenantTier.STARTER) -> None:
        self.public_url = settings.public_url
        self.stripe = stripe_client(settings)
        self.price_id = BillingActivities(self.stripe, public_url=self.public_url).tier_price(
            tier.value
        )

    def checkout_url(self, run: str, i: int) -> str:
        """Creates the customer and the Checkout session of signup `i`; the session's URL."""
        signup_id = str(uuid.uuid4())
        subdomain = f"raw{run}-{i}"
        base_key = f"signup-{subdomain}:{signup_id}"
        metadata = {"signup_id": signup_id, "subdomain": subdomain}
        customer = self.stripe.v1.customers.create(
            params={
                "email": f"raw-{run}-{i}@example.com",
                "description": f"Tenantry tenant {subdomain}",
                "metadata": metadata,
            },
            options={"idempotency_key": f"{base_key}:customer"},
        )
        session = self.stripe.v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "customer": customer.id,
                "client_reference_id": signup_id,
                "line_items": [{"price": self.price_id, "quantity": 1}],
                "metadata": metadata,
                "subscription_data": {"metadata": metadata},
                "success_url": f"{self.public_url}/v1/signups/{signup_id}/paid",
                "cancel_url": f"{self.public_url}/v1/signups/{signup_id}/cancelled",
                "expires_at": int((datetime.now(UTC) + EXPIRY).timestamp()),
            },
            options={"idempotency_key": f"{base_key}:checkout"},
        )
        if not session.url:
            raise RuntimeError(f"checkout session {session.id} has no url")
        return session.url

    async def status(self, run: str, i: int) -> str:
        """Both calls in a worker thread; "201" when the URL exists, else the error's name."""
        try:
            await asyncio.to_thread(self.checkout_url, run, i)
        except Exception as exc:  # a failed call is counted, as a failed request is
            return type(exc).__name__
        return "201"
