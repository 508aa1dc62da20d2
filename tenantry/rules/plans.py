"""Every price and plan of the product, in one place.

Amounts are integers in the smallest currency unit (cents, and micro-dollars for
per-hour pod prices) so that money is never a float.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

CURRENCY = "usd"


class TenantTier(StrEnum):
    STARTER = "starter"
    PRO = "pro"


@dataclass(frozen=True)
class TenantPlan:
    tier: TenantTier
    server_type: str
    monthly_cents: int
    # What the plan's server costs us a month (Hetzner's list price, in CURRENCY): a
    # warm pool server costs this while it waits for a signup.
    server_monthly_cents: int = 0

    @property
    def price_lookup_key(self) -> str:
        return f"tenant-{self.tier.value}-monthly"


TENANT_PLANS: dict[TenantTier, TenantPlan] = {
    TenantTier.STARTER: TenantPlan(TenantTier.STARTER, "cpx21", 2900, server_monthly_cents=899),
    TenantTier.PRO: TenantPlan(TenantTier.PRO, "ccx13", 7900, server_monthly_cents=1499),
}


class PodTier(StrEnum):
    SMALL = "dev.small"
    MEDIUM = "dev.medium"
    LARGE = "dev.large"
    XLARGE = "dev.xlarge"


@dataclass(frozen=True)
class PodPlan:
    tier: PodTier
    cpus: Decimal
    memory_mb: int
    hourly_usd: Decimal
    # The workspace's own filesystem size: a hard limit that holds on any ext4 host, and
    # so also the most a snapshot of it can hold.
    workspace_mb: int

    @property
    def meter_event_name(self) -> str:
        return "pod_runtime_" + self.tier.value.replace(".", "_")


POD_PLANS: dict[PodTier, PodPlan] = {
    PodTier.SMALL: PodPlan(PodTier.SMALL, Decimal("0.5"), 1024, Decimal("0.008"), 10 * 1024),
    PodTier.MEDIUM: PodPlan(PodTier.MEDIUM, Decimal("1"), 2048, Decimal("0.017"), 20 * 1024),
    PodTier.LARGE: PodPlan(PodTier.LARGE, Decimal("2"), 4096, Decimal("0.033"), 40 * 1024),
    PodTier.XLARGE: PodPlan(PodTier.XLARGE, Decimal("4"), 8192, Decimal("0.067"), 80 * 1024),
}

SNAPSHOT_USD_PER_GB_MONTH = Decimal("0.01")
FREE_POD_HOURS_PER_MONTH = 10

SNAPSHOT_METER_EVENT = "snapshot_storage_gb_seconds"
RUNTIME_METER_UNIT_SECONDS = 3600  # runtime meters count seconds; prices are per hour
SNAPSHOT_METER_UNIT_GB_SECONDS = 30 * 24 * 3600  # GB-seconds in the GB-month Stripe bills


@dataclass(frozen=True)
class MeteredPrice:
    """A Stripe metered price on one of our billing meters.

    Meters count seconds (GB-seconds for snapshots) so the ledger and Stripe agree to
    the second; the price is per hour (per GB-month) through `transform_quantity`
    (`divide_by` meter units per package, rounded up per invoice), so the invoice line
    shows the metered seconds and its amount is whole hours times the hourly price.
    `unit_cents` is a decimal number of cents, as Stripe's `unit_amount_decimal`.
    """

    lookup_key: str
    meter_event_name: str
    product_name: str
    unit_cents: Decimal
    divide_by: int


def metered_prices() -> list[MeteredPrice]:
    """One price per pod tier (its hourly price) and one for snapshot storage."""
    prices = [
        MeteredPrice(
            lookup_key=f"pod-{plan.tier.value.replace('.', '-')}-hourly",
            meter_event_name=plan.meter_event_name,
            product_name=f"Pod runtime, {plan.tier.value} (per hour)",
            unit_cents=plan.hourly_usd * 100,
            divide_by=RUNTIME_METER_UNIT_SECONDS,
        )
        for plan in POD_PLANS.values()
    ]
    prices.append(
        MeteredPrice(
            lookup_key="snapshot-storage-gb-month",
            meter_event_name=SNAPSHOT_METER_EVENT,
            product_name="Snapshot storage (per GB-month)",
            unit_cents=SNAPSHOT_USD_PER_GB_MONTH * 100,
            divide_by=SNAPSHOT_METER_UNIT_GB_SECONDS,
        )
    )
    return prices


def pool_monthly_cents(tier: str, servers: int) -> int:
    """What `servers` warm pool servers of a tier cost a month."""
    return TENANT_PLANS[TenantTier(tier)].server_monthly_cents * servers
