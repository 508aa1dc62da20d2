"""Reconciliation: the local usage ledger against Stripe's meter event summaries, and
against the invoices of the billing periods that closed in the month.

Per billed customer, meter and UTC hour of a month, the sum of `meter_value` of the
usage records reported to Stripe must equal Stripe's aggregated value. Every mismatch
(including usage Stripe has that we do not, and records not yet reported) is a
difference; none are expected. Each account's invoice lines must carry the ledger's
billable quantities (`db.repo.invoice_reconciliation`); a mismatch there is an
`invoice_differences` entry.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import stripe
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import UsageRecord
from db.repo.invoice_reconciliation import InvoiceDifference, reconcile_invoices
from tenantry.rules.metering import HOUR, meter_event_names, month_start, next_month


class Difference(BaseModel):
    customer: str | None
    event_name: str
    hour: datetime
    local: int
    stripe: int
    unreported: int = 0


class Reconciliation(BaseModel):
    month: str
    customers: int
    records: int
    local_total: int
    stripe_total: int
    differences: list[Difference]
    invoices: int = 0
    invoice_lines: int = 0
    invoice_differences: list[InvoiceDifference] = []


def reconcile(session: Session, client: stripe.StripeClient, month: datetime) -> Reconciliation:
    start = month_start(month)
    end = min(next_month(start), datetime.now(UTC).replace(minute=0, second=0, microsecond=0))
    end = max(end, start + HOUR)
    rows = session.execute(
        select(
            UsageRecord.billed_customer_id,
            UsageRecord.event_name,
            UsageRecord.hour,
            func.sum(UsageRecord.meter_value).filter(UsageRecord.reported_at.is_not(None)),
            func.count().filter(UsageRecord.reported_at.is_(None)),
            func.count(),
        )
        .where(UsageRecord.hour >= start, UsageRecord.hour < next_month(start))
        .group_by(UsageRecord.billed_customer_id, UsageRecord.event_name, UsageRecord.hour)
    ).all()
    local: dict[tuple[str | None, str, datetime], tuple[int, int]] = {}
    records = 0
    for customer, event_name, hour, value, unreported, count in rows:
        local[(customer, event_name or "", hour.astimezone(UTC))] = (int(value or 0), unreported)
        records += count
    customers = sorted({c for c, _, _ in local if c})
    meters = {
        m.event_name: m.id
        for m in client.v1.billing.meters.list(params={"limit": 100}).auto_paging_iter()
    }
    remote: dict[tuple[str | None, str, datetime], int] = defaultdict(int)
    for customer in customers:
        for name in meter_event_names():
            meter_id = meters.get(name)
            if meter_id is None:
                continue
            summaries = client.v1.billing.meters.event_summaries.list(
                meter_id,
                params={
                    "customer": customer,
                    "start_time": int(start.timestamp()),
                    "end_time": int(end.timestamp()),
                    "value_grouping_window": "hour",
                    "limit": 100,
                },
            )
            for summary in summaries.auto_paging_iter():
                aggregated = Decimal(str(summary.aggregated_value))
                if aggregated:
                    hour = datetime.fromtimestamp(summary.start_time, UTC)
                    remote[(customer, name, hour)] += int(aggregated)
    differences = []
    for key in sorted(set(local) | set(remote), key=lambda k: (k[0] or "", k[1], k[2])):
        value, unreported = local.get(key, (0, 0))
        if value != remote.get(key, 0) or unreported:
            differences.append(
                Difference(
                    customer=key[0],
                    event_name=key[1],
                    hour=key[2],
                    local=value,
                    stripe=remote.get(key, 0),
                    unreported=unreported,
                )
            )
    invoices = reconcile_invoices(session, client, start)
    return Reconciliation(
        month=f"{start:%Y-%m}",
        customers=len(customers),
        records=records,
        local_total=sum(v for v, _ in local.values()),
        stripe_total=sum(remote.values()),
        differences=differences,
        invoices=invoices.invoices,
        invoice_lines=invoices.lines,
        invoice_differences=invoices.differences,
    )


__all__ = ["Difference", "InvoiceDifference", "Reconciliation", "reconcile"]
