"""Pod usage billing: adding a card, the billing portal, and the account's invoices.

Amounts are integers in cents, as Stripe gives them; a usage line's `quantity` is what
the meter counted (seconds, GB-seconds for snapshots) and `billed_units` is what was
priced (started hours, GB-months), as on the Stripe invoice.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class CheckoutLink(BaseModel):
    checkout_url: str = Field(description="Stripe Checkout in setup mode: add a card there")


class PortalLink(BaseModel):
    url: str = Field(description="Stripe's billing portal: invoices and the card")


class InvoiceLine(BaseModel):
    description: str | None
    meter_event_name: str | None = Field(description="the billing meter the line is priced on")
    quantity: int | None = Field(description="what the meter counted in the period")
    billed_units: int | None = Field(description="hours (GB-months) priced, rounded up")
    amount_cents: int
    period_start: datetime
    period_end: datetime


class InvoiceView(BaseModel):
    id: str
    number: str | None
    status: str | None
    currency: str
    total_cents: int
    amount_due_cents: int
    amount_paid_cents: int
    period_start: datetime
    period_end: datetime
    created: datetime
    hosted_invoice_url: str | None
    lines: list[InvoiceLine]
