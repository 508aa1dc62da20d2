"""Typed messages of pod usage billing (`AccountBillingWorkflow`, `account-billing-{id}`).

An account (a team owner) pays pod usage on a Stripe subscription with one metered price
per pod tier and one for snapshot storage (`tenantry.rules.plans.metered_prices`). It is
made once, when a card is added through Checkout in setup mode: the verified
`checkout.session.completed` webhook signal-with-starts the account's workflow
(`card_added`), whose activity makes the card the customer's default and creates the
subscription with idempotency keys from the account id, so a retry or a second card
never makes a second subscription.

The same workflow hears the subscription's invoices (`invoice_event`): a failed payment
starts a grace period, after which the account's pods hibernate and no pod starts; a paid
invoice settles it. No email, card number or secret is in any of these messages.
"""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, Field

BILLING_SOURCE = "billing"
"""The `PodRequest.source` of a hibernation asked for by an unpaid invoice."""


class AccountBillingStage(enum.StrEnum):
    """The `Stage` search attribute of `account-billing-{account_id}`."""

    WAITING = "waiting"  # started, no subscription yet
    ACTIVE = "active"  # subscribed, invoices paid
    GRACE = "grace"  # an invoice failed; pods run until `grace_until`
    HIBERNATED = "hibernated"  # grace over unpaid: pods hibernated, starts refused


class CardAdded(BaseModel):
    """A verified `checkout.session.completed` of a setup-mode session for the account."""

    event_id: str
    checkout_session_id: str


class InvoiceEvent(BaseModel):
    """`invoice.payment_failed` or `invoice.paid` of the account's subscription."""

    event_id: str
    type: str
    invoice_id: str | None = None


class AccountBillingInput(BaseModel):
    account_id: str
    grace_seconds: float = 7 * 24 * 3600
    stage: AccountBillingStage = AccountBillingStage.WAITING
    subscription_id: str | None = None
    grace_until: datetime | None = None
    failed_invoices: list[str] = Field(default_factory=list)
    seen_events: list[str] = Field(default_factory=list)
    pending_cards: list[CardAdded] = Field(default_factory=list)
    pending_invoices: list[InvoiceEvent] = Field(default_factory=list)


class AccountBillingState(BaseModel):
    account_id: str
    stage: AccountBillingStage
    subscription_id: str | None = None
    grace_until: datetime | None = None
    failed_invoices: list[str] = Field(default_factory=list)


class SubscribeInput(BaseModel):
    account_id: str
    checkout_session_id: str


class Subscribed(BaseModel):
    subscription_id: str
    payment_method_id: str


class PastDueInput(BaseModel):
    """Records the account's standing: `past_due_since` (grace) and `overdue_since`
    (grace over); None clears it."""

    account_id: str
    past_due_since: datetime | None = None
    overdue_since: datetime | None = None


class BillingHibernation(BaseModel):
    account_id: str


class BillingHibernated(BaseModel):
    requested: list[str] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
