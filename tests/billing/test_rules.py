"""The pure billing rules: who may start a pod, and the metered prices."""

from __future__ import annotations

from decimal import Decimal

from tenantry.rules.billing import (
    FREE_SECONDS_PER_MONTH,
    BillingStanding,
    credit_covered,
    pod_start_refusal,
    uncovered_meter_value,
)
from tenantry.rules.metering import meter_event_names
from tenantry.rules.plans import POD_PLANS, metered_prices


def test_the_free_tier_alone_allows_starts_until_it_is_used() -> None:
    assert pod_start_refusal(BillingStanding(FREE_SECONDS_PER_MONTH - 1, False, None)) is None
    refusal = pod_start_refusal(BillingStanding(FREE_SECONDS_PER_MONTH, False, None))
    assert refusal is not None and "payment method" in refusal


def test_a_card_or_credits_above_zero_lift_the_free_tier_limit() -> None:
    used = FREE_SECONDS_PER_MONTH * 5
    assert pod_start_refusal(BillingStanding(used, True, None)) is None
    assert pod_start_refusal(BillingStanding(used, False, Decimal("0.01"))) is None
    assert pod_start_refusal(BillingStanding(used, False, Decimal(0))) is not None
    assert pod_start_refusal(BillingStanding(used, False, Decimal(-3))) is not None


def test_an_overdue_invoice_refuses_even_with_a_card() -> None:
    refusal = pod_start_refusal(BillingStanding(0, True, Decimal(10), invoice_overdue=True))
    assert refusal is not None and "unpaid" in refusal


def test_one_metered_price_per_meter_at_the_contract_prices() -> None:
    prices = {p.meter_event_name: p for p in metered_prices()}
    assert sorted(prices) == sorted(meter_event_names())
    assert len({p.lookup_key for p in prices.values()}) == len(prices)
    cents = {
        tier.value: prices[plan.meter_event_name].unit_cents for tier, plan in POD_PLANS.items()
    }
    assert cents == {
        "dev.small": Decimal("0.8"),
        "dev.medium": Decimal("1.7"),
        "dev.large": Decimal("3.3"),
        "dev.xlarge": Decimal("6.7"),
    }
    assert all(p.divide_by == 3600 for p in prices.values() if p.meter_event_name.startswith("pod"))


def test_credits_cover_what_the_balance_holds_and_the_rest_is_metered() -> None:
    cost = Decimal("0.017")  # an hour of dev.medium
    assert credit_covered(Decimal(5), cost) == cost
    assert uncovered_meter_value(3600, cost, cost) == 0
    assert credit_covered(Decimal(0), cost) == 0
    assert credit_covered(Decimal(-2), cost) == 0
    assert uncovered_meter_value(3600, cost, Decimal(0)) == 3600
    half = credit_covered(Decimal("0.0085"), cost)
    assert half == Decimal("0.0085")
    assert uncovered_meter_value(3600, cost, half) == 1800
    # A third is uncovered: 1200.0 seconds exactly, and a hair more rounds up.
    assert uncovered_meter_value(3600, Decimal("0.03"), Decimal("0.02")) == 1200
    assert uncovered_meter_value(3601, Decimal("0.03"), Decimal("0.02")) == 1201
