"""Account billing: the metered subscription made once a card is added, and the account's
standing when an invoice is unpaid.

Exactly once rests on business identity, never on the attempt:

- the subscription is looked up first (ours in the database, else the customer's live
  subscription with our `account_id` metadata), and created only when neither exists,
  with the idempotency key `account-billing-{account_id}:subscription`; a retry after a
  lost answer finds it either way;
- the card becomes the customer's default with a key per Checkout Session.

The subscription starts at the beginning of the current UTC month and is anchored to
the next one (`backdate_start_date`, `billing_cycle_anchor`), so each invoice is one
calendar month, the same month the usage ledger, `GET /v1/usage` and reconciliation use;
usage metered this month before the card was added is on the first invoice.

Stripe calls are synchronous (the official client): those activities are sync and run in
the worker's thread pool.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import stripe
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.account_pods import hibernate_account_pods
from activities.errors import from_stripe
from activities.stripe_catalog import find_or_create_metered_prices
from db.models import Account
from tenantry.contracts.billing import (
    BILLING_SOURCE,
    BillingHibernated,
    BillingHibernation,
    PastDueInput,
    Subscribed,
    SubscribeInput,
)
from tenantry.contracts.common import ErrorType, account_billing_workflow_id
from tenantry.rules.metering import month_start, next_month

LIVE = ("active", "past_due", "trialing", "incomplete", "unpaid")


class AccountBillingActivities:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        async_sessions: async_sessionmaker[AsyncSession],
        client: stripe.StripeClient,
        temporal: Client,
    ) -> None:
        self._sessions = sessions
        self._async_sessions = async_sessions
        self._stripe = client
        self._temporal = temporal
        self._prices: dict[str, str] = {}
        self._lock = threading.Lock()

    def _metered_prices(self) -> list[str]:
        with self._lock:
            if not self._prices:
                self._prices = find_or_create_metered_prices(self._stripe)
            return list(self._prices.values())

    @activity.defn
    def billing_subscribe(self, inp: SubscribeInput) -> Subscribed:
        """Makes the Checkout's card the default and the account's subscription, once."""
        account_id = uuid.UUID(inp.account_id)
        key = account_billing_workflow_id(inp.account_id)
        with self._sessions() as session, session.begin():
            account = session.get(Account, account_id, with_for_update=True)
            if account is None or not account.stripe_customer_id:
                raise ApplicationError(
                    "the account or its Stripe customer is gone",
                    type=ErrorType.NOT_FOUND,
                    non_retryable=True,
                )
            customer = account.stripe_customer_id
            try:
                card = self._card(inp, customer)
                self._stripe.v1.customers.update(
                    customer,
                    params={"invoice_settings": {"default_payment_method": card}},
                    options={"idempotency_key": f"{key}:default-card:{inp.checkout_session_id}"},
                )
                subscription = account.billing_subscription_id or self._existing(
                    customer, inp.account_id
                )
                if subscription is None:
                    now = datetime.now(UTC)
                    created = self._stripe.v1.subscriptions.create(
                        params={
                            "customer": customer,
                            "items": [{"price": price} for price in self._metered_prices()],
                            "metadata": {"account_id": inp.account_id},
                            "backdate_start_date": int(month_start(now).timestamp()),
                            "billing_cycle_anchor": int(next_month(now).timestamp()),
                        },
                        options={"idempotency_key": f"{key}:subscription"},
                    )
                    subscription = created.id
            except stripe.StripeError as exc:
                raise from_stripe(exc, "set up the account's billing") from exc
            account.billing_subscription_id = subscription
            account.billing_payment_method_id = card
        activity.logger.info("account %s billed on %s", inp.account_id, subscription)
        return Subscribed(subscription_id=subscription, payment_method_id=card)

    def _card(self, inp: SubscribeInput, customer: str) -> str:
        """The card a completed setup-mode session of this account's customer saved."""
        checkout = self._stripe.v1.checkout.sessions.retrieve(inp.checkout_session_id)
        ours = (
            checkout.mode == "setup"
            and checkout.status == "complete"
            and checkout.customer == customer
            and _account_of(checkout.metadata) == inp.account_id
        )
        if not ours or not checkout.setup_intent:
            raise ApplicationError(
                f"checkout {inp.checkout_session_id} is not a completed card setup of the account",
                type=ErrorType.INVALID_INPUT,
                non_retryable=True,
            )
        intent = self._stripe.v1.setup_intents.retrieve(str(checkout.setup_intent))
        if intent.status != "succeeded" or not intent.payment_method:
            raise ApplicationError(
                "the card setup did not succeed", type=ErrorType.INVALID_INPUT, non_retryable=True
            )
        pm = intent.payment_method
        return pm if isinstance(pm, str) else pm.id

    def _existing(self, customer: str, account_id: str) -> str | None:
        """The customer's live subscription made for this account (a retry's, say)."""
        for sub in self._stripe.v1.subscriptions.list(
            params={"customer": customer, "status": "all", "limit": 100}
        ).auto_paging_iter():
            if sub.status in LIVE and _account_of(sub.metadata) == account_id:
                return sub.id
        return None

    @activity.defn
    def billing_standing(self, inp: PastDueInput) -> None:
        """Records the account's grace period (past due) and its end (overdue)."""
        with self._sessions() as session, session.begin():
            session.execute(
                update(Account)
                .where(Account.id == uuid.UUID(inp.account_id))
                .values(
                    billing_past_due_since=inp.past_due_since,
                    billing_overdue_since=inp.overdue_since,
                )
            )

    @activity.defn
    async def billing_hibernate_pods(self, inp: BillingHibernation) -> BillingHibernated:
        """Asks every running pod of the account and its team members to hibernate."""
        requested, skipped = await hibernate_account_pods(
            self._async_sessions, self._temporal, uuid.UUID(inp.account_id), BILLING_SOURCE
        )
        return BillingHibernated(requested=requested, skipped=skipped)


def _account_of(metadata: stripe.StripeObject | None) -> str | None:
    """The `account_id` in a Stripe object's metadata."""
    if metadata is None:
        return None
    value = metadata.to_dict().get("account_id")
    return str(value) if value is not None else None
