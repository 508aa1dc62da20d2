"""Who may start a pod: the free tier, prepaid credits, a card on file, an unpaid invoice.

Pure, so the API's answer (402 or go) is tested exactly. An account pays through its
billed account (the team owner), so every input here is the billed account's.

- With a card on file (a billing subscription) or prepaid credits above zero, pods start.
- Otherwise only the free tier is left: `FREE_POD_HOURS_PER_MONTH` pod-hours a month, as
  the usage ledger has metered them so far (the hour running now is not in it yet).
- An account whose invoice stayed unpaid past its grace period may not start pods,
  whatever else it has, until the invoice is paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from tenantry.rules.plans import FREE_POD_HOURS_PER_MONTH

FREE_SECONDS_PER_MONTH = FREE_POD_HOURS_PER_MONTH * 3600


@dataclass(frozen=True)
class BillingStanding:
    free_seconds_used: int
    has_payment_method: bool
    credit_balance: Decimal | None  # None: never prepaid
    invoice_overdue: bool = False


def pod_start_refusal(standing: BillingStanding) -> str | None:
    """Why a pod may not start now (a message for the 402), or None if it may."""
    if standing.invoice_overdue:
        return (
            "an invoice is unpaid past its grace period: pay it or change the card in the "
            "billing portal (GET /v1/billing/portal) to start pods again"
        )
    if standing.has_payment_method:
        return None
    if standing.credit_balance is not None and standing.credit_balance > 0:
        return None
    if standing.free_seconds_used < FREE_SECONDS_PER_MONTH:
        return None
    return (
        f"the free tier's {FREE_POD_HOURS_PER_MONTH} pod-hours this month are used: add a "
        "payment method (POST /v1/billing/payment-method) or prepaid credits to start pods"
    )


def credit_covered(balance: Decimal, cost: Decimal) -> Decimal:
    """How much of a usage record's cost prepaid credits pay: what the balance holds."""
    return min(max(balance, Decimal(0)), max(cost, Decimal(0)))


def uncovered_meter_value(meter_value: int, cost: Decimal, covered: Decimal) -> int:
    """The meter value (seconds) of the part of a record credits do not pay, rounded up:
    what is sent to Stripe and invoiced. Credits paying all of it leaves nothing."""
    if cost <= 0 or covered >= cost:
        return 0
    uncovered = Decimal(meter_value) * (cost - covered) / cost
    return int(uncovered.to_integral_value(rounding=ROUND_CEILING))
