"""Product gauges read from the database when Prometheus scrapes the worker.

Signups and pods by status, how far metering lags behind the clock, and how many usage
records Stripe has not accepted yet. Each scrape runs a few short indexed queries under a
timeout instead of a background loop, so the numbers are as fresh as the scrape and an
idle worker costs the database nothing. When the database does not answer,
`tenantry_product_metrics_up` is 0 and the other gauges are left out rather than stale.

Failed Stripe webhooks leave no row by design (a failed delivery rolls its claim back and
Stripe redelivers), so they are counted where they happen: the API's
`tenantry_http_requests_total{route="/v1/stripe/webhook"}` by status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models.pods import POD_STATUSES
from db.models.tenants import SIGNUP_STATUSES

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class ProductSnapshot:
    """What one scrape read from the database."""

    signups: dict[str, int] = field(default_factory=dict)
    pods: dict[str, int] = field(default_factory=dict)
    last_metered_hour: datetime | None = None
    unreported_usage_records: int = 0
    read_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def metering_lag_seconds(self) -> float | None:
        """Seconds since the last metered hour closed (its start plus one hour)."""
        if self.last_metered_hour is None:
            return None
        closed = self.last_metered_hour.replace(tzinfo=self.last_metered_hour.tzinfo or UTC)
        return max(0.0, (self.read_at - (closed + HOUR)).total_seconds())


async def read_snapshot(engine: AsyncEngine) -> ProductSnapshot:
    async with engine.connect() as conn:
        signups = await conn.execute(text("SELECT status, count(*) FROM signups GROUP BY 1"))
        pods = await conn.execute(text("SELECT status, count(*) FROM pods GROUP BY 1"))
        signup_counts = {str(s): int(n) for s, n in signups}
        pod_counts = {str(s): int(n) for s, n in pods}
        last_hour = await conn.scalar(text("SELECT max(hour) FROM metering_runs"))
        unreported = await conn.scalar(
            text("SELECT count(*) FROM usage_records WHERE reported_at IS NULL")
        )
    return ProductSnapshot(
        signups={s: signup_counts.get(s, 0) for s in (*SIGNUP_STATUSES, *signup_counts)},
        pods={s: pod_counts.get(s, 0) for s in (*POD_STATUSES, *pod_counts)},
        last_metered_hour=last_hour,
        unreported_usage_records=int(unreported or 0),
    )


class ProductMetrics:
    """A Prometheus collector over the latest snapshot; `render()` refreshes it first."""

    def __init__(self, engine: AsyncEngine, *, timeout: float = 2.0) -> None:
        self.engine = engine
        self.timeout = timeout
        self.snapshot: ProductSnapshot | None = None
        self.registry = CollectorRegistry()
        self.registry.register(self)

    async def refresh(self) -> None:
        try:
            self.snapshot = await asyncio.wait_for(read_snapshot(self.engine), self.timeout)
        except Exception:  # a scrape reports the database as down, whatever the cause
            self.snapshot = None

    async def render(self) -> bytes:
        await self.refresh()
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "tenantry_product_metrics_up", "1 when the last scrape could read the database."
        )
        up.add_metric([], 1 if self.snapshot is not None else 0)
        yield up
        snapshot = self.snapshot
        if snapshot is None:
            return
        signups = GaugeMetricFamily("tenantry_signups", "Signups by status.", labels=["status"])
        for status, count in snapshot.signups.items():
            signups.add_metric([status], count)
        yield signups
        pods = GaugeMetricFamily("tenantry_pods", "Pods by status.", labels=["status"])
        for status, count in snapshot.pods.items():
            pods.add_metric([status], count)
        yield pods
        yield GaugeMetricFamily(
            "tenantry_usage_records_unreported",
            "Usage records that Stripe has not accepted yet.",
            value=snapshot.unreported_usage_records,
        )
        lag = snapshot.metering_lag_seconds
        if lag is not None:  # absent until the first hour is metered: alert on absent()
            yield GaugeMetricFamily(
                "tenantry_metering_lag_seconds",
                "Seconds since the last metered hour closed.",
                value=lag,
            )
