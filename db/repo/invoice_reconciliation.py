"""Invoices against the ledger: for each account's closed billing periods ending in a
month, each metered invoice line's quantity must equal the ledger's billable quantity.

The ledger's quantity for a line is the sum of `meter_value` (what was sent to that
meter: billable seconds after the free tier and credits, GB-seconds for snapshots) of
the account's usage records whose hour lies in the invoice's period; a meter event is
stamped inside its hour, so that is exactly what Stripe summed. Lines of prices that are
not ours (no meter of ours) are not compared.
"""

from __future__ import annotations

from datetime import UTC, datetime

import stripe
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Account, UsageRecord
from tenantry.rules.metering import month_start, next_month
from tenantry.rules.plans import metered_prices


class InvoiceDifference(BaseModel):
    account_id: str
    invoice: str
    event_name: str
    period_start: datetime
    period_end: datetime
    local: int
    stripe: int


class InvoiceReconciliation(BaseModel):
    invoices: int = 0
    lines: int = 0
    differences: list[InvoiceDifference] = []


def reconcile_invoices(
    session: Session, client: stripe.StripeClient, month: datetime
) -> InvoiceReconciliation:
    """Every account invoice whose period ended in `month` (closed periods only)."""
    start, end = month_start(month), next_month(month)
    specs = {spec.lookup_key: spec.meter_event_name for spec in metered_prices()}
    events_by_price = {
        p.id: specs[p.lookup_key]
        for p in client.v1.prices.list(
            params={"lookup_keys": list(specs), "limit": 100}
        ).auto_paging_iter()
        if p.lookup_key in specs
    }
    result = InvoiceReconciliation()
    accounts = session.execute(
        select(Account.id, Account.stripe_customer_id, Account.billing_subscription_id)
        .where(Account.billing_subscription_id.is_not(None))
        .order_by(Account.id)
    ).all()
    for account_id, customer, subscription in accounts:
        if not customer:
            continue
        invoices = client.v1.invoices.list(
            params={
                "customer": customer,
                "subscription": str(subscription),
                "created": {"gte": int(start.timestamp())},
                "limit": 100,
            }
        ).auto_paging_iter()
        for invoice in invoices:
            period_start = datetime.fromtimestamp(invoice.period_start, UTC)
            period_end = datetime.fromtimestamp(invoice.period_end, UTC)
            closed = period_end > period_start and start < period_end <= end
            if invoice.billing_reason != "subscription_cycle" or not closed:
                continue
            result.invoices += 1
            local = _ledger(session, account_id, period_start, period_end)
            for line in invoice.lines.auto_paging_iter():
                data = line.to_dict(recursive=True)
                price = ((data.get("pricing") or {}).get("price_details") or {}).get("price")
                event_name = events_by_price.get(str(price))
                if event_name is None:
                    continue
                result.lines += 1
                remote = int(data.get("quantity") or 0)
                if remote != local.get(event_name, 0):
                    result.differences.append(
                        InvoiceDifference(
                            account_id=str(account_id),
                            invoice=invoice.id,
                            event_name=event_name,
                            period_start=period_start,
                            period_end=period_end,
                            local=local.get(event_name, 0),
                            stripe=remote,
                        )
                    )
    return result


def _ledger(session: Session, account_id: object, start: datetime, end: datetime) -> dict[str, int]:
    rows = session.execute(
        select(UsageRecord.event_name, func.sum(UsageRecord.meter_value))
        .where(
            UsageRecord.billed_account_id == account_id,
            UsageRecord.hour >= start,
            UsageRecord.hour < end,
        )
        .group_by(UsageRecord.event_name)
    ).all()
    return {str(name): int(total or 0) for name, total in rows}
