"""Pod usage becomes a Stripe invoice equal to the ledger, on the real stack: API, worker,
Temporal, PostgreSQL and the Stripe emulator (webhooks delivered to the API).

A team (owner and member) runs pods past the free tier and is refused a pod start with
402; the owner adds a card through Checkout in setup mode and gets a subscription with
one metered price per pod tier (and snapshots) on the billing meters. A prepaid account
with a card has part of its usage paid by credits. When the emulator's clock passes the
period end, each invoice has one line per tier whose quantity is the ledger's billable
seconds (`GET /v1/usage`) and whose amount is those hours times the CONTRACT price;
credit-covered usage is not on the invoice.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from db.models import Account, Pod, PodEvent, UsageRecord
from db.session import make_engine
from tenantry.clients.temporal import DATA_CONVERTER
from tenantry.contracts.billing import BILLING_SOURCE
from tenantry.contracts.common import account_billing_workflow_id
from tenantry.rules.metering import month_start, next_month, utc_hour
from tenantry.rules.plans import POD_PLANS, PodTier
from tests.fixtures.api import ADMIN_TOKEN
from tests.fixtures.stack import Stack
from tests.fixtures.stripe import StripeEmulator
from tests.support.checkout import pay
from tests.support.pods import POD_CONFIG, status, wait
from tests.support.poll import eventually
from worker.registry import workflows

REPLAY = Path(__file__).parents[1] / "replay" / "histories"
HOURS = 5  # three pods for five hours: 15 pod-hours, 10 of them free


def closed_hours_this_month() -> list[datetime]:
    now = utc_hour(datetime.now(UTC))
    first = now - timedelta(hours=HOURS)
    if first < month_start(now):
        pytest.skip(f"fewer than {HOURS} closed hours in this UTC month yet")
    return [first + timedelta(hours=i) for i in range(HOURS)]


def account_id(stack: Stack, key: str) -> uuid.UUID:
    with stack.api.client(key) as http:
        return uuid.UUID(http.get("/v1/team").json()["owner_id"])


def seed_pods(database_url: str, hours: list[datetime], runs: list[tuple[uuid.UUID, str]]) -> None:
    """Pods that ran exactly `hours` (whole hours: exact invoices), one per (account, tier)."""
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        for i, (owner, tier) in enumerate(runs):
            pod = Pod(account_id=owner, name=f"ran-{i}", tier=tier, status="hibernated")
            session.add(pod)
            session.flush()
            session.add(PodEvent(pod_id=pod.id, kind="running", tier=tier, at=hours[0]))
            end = hours[-1] + timedelta(hours=1)
            session.add(PodEvent(pod_id=pod.id, kind="hibernated", tier=tier, at=end))
    engine.dispose()


def join_team(database_url: str, member: uuid.UUID, owner: uuid.UUID) -> None:
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        session.execute(update(Account).where(Account.id == member).values(team_owner_id=owner))
    engine.dispose()


def subscription_of(database_url: str, account: uuid.UUID) -> str | None:
    engine = make_engine(database_url)
    with Session(engine) as session:
        found = session.scalar(select(Account.billing_subscription_id).where(Account.id == account))
    engine.dispose()
    return found


def add_card(stack: Stack, key: str, database_url: str, account: uuid.UUID) -> str:
    """Checkout in setup mode, paid on the hosted page; waits for the subscription."""
    with stack.api.client(key) as http:
        response = http.post("/v1/billing/payment-method")
    assert response.status_code == 201, response.text
    assert pay(response.json()["checkout_url"]).status_code == 303
    subscription: str = eventually(
        lambda: subscription_of(database_url, account),
        timeout=60,
        what=lambda last: f"a subscription for {account}: {last}\n{stack.worker_logs()}",
        interval=0.2,
    )
    return subscription


def start_pod(stack: Stack, key: str, name: str) -> Any:
    with stack.api.client(key) as http:
        return http.post("/v1/pods", json={"name": name, "tier": "dev.small", "config": POD_CONFIG})


def cents(hours: Decimal, tier: str) -> int:
    price = POD_PLANS[PodTier(tier)].hourly_usd * 100
    return int((hours * price).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_pod_usage_is_invoiced_as_the_ledger_says(
    stack: Stack, stripe_env: StripeEmulator, database_url: str
) -> None:
    hours = closed_hours_this_month()
    owner_key, member_key = (
        stack.new_account("owner@example.com"),
        stack.new_account("member@example.com"),
    )
    prepaid_key = stack.new_account("prepaid@example.com")
    owner, member = account_id(stack, owner_key), account_id(stack, member_key)
    prepaid = account_id(stack, prepaid_key)
    join_team(database_url, member, owner)

    # The prepaid account adds a card first, and credits worth two hours of dev.xlarge.
    prepaid_subscription = add_card(stack, prepaid_key, database_url, prepaid)
    with stack.api.admin() as admin:
        topped = admin.post(
            f"/v1/admin/accounts/{prepaid}/credits",
            json={"amount_usd": "0.134", "reference": "prepaid-1", "reason": "top-up"},
        )
    assert topped.status_code in (200, 201), topped.text

    seed_pods(
        database_url,
        hours,
        [(owner, "dev.small"), (owner, "dev.medium"), (member, "dev.large")]
        + [(prepaid, "dev.xlarge")] * 3,
    )
    with stack.api.admin() as admin:
        for hour in hours:
            ran = admin.post("/v1/admin/metering/run", json={"hour": hour.isoformat()})
            assert ran.status_code == 200, ran.text

    # The team used its free tier: neither owner nor member may start a pod.
    for key in (owner_key, member_key):
        refused = start_pod(stack, key, "one-more")
        assert refused.status_code == 402, refused.text
        assert refused.json()["error"]["code"] == "payment_required"
        assert "payment method" in refused.json()["error"]["message"]
    with stack.api.client(member_key) as http:
        assert http.post("/v1/billing/payment-method").status_code == 403
        assert http.get("/v1/billing/invoices").status_code == 403

    subscription_id = add_card(stack, owner_key, database_url, owner)
    client = stack.stripe()
    subscription = client.v1.subscriptions.retrieve(subscription_id)
    assert subscription.status == "active"
    customer = client.v1.customers.retrieve(str(subscription.customer))
    assert customer.invoice_settings and customer.invoice_settings.default_payment_method
    meters = {m.id: m.event_name for m in client.v1.billing.meters.list().data}
    priced = {
        meters[str(item.price.recurring.meter)]: item.price
        for item in subscription["items"].data
        if item.price.recurring is not None
    }
    assert len(priced) == len(subscription["items"].data) == len(POD_PLANS) + 1
    for plan in POD_PLANS.values():
        price = priced[plan.meter_event_name]
        assert price.recurring and price.recurring.usage_type == "metered"
        assert Decimal(str(price.unit_amount_decimal)) == plan.hourly_usd * 100
    # Once: a second card (another Checkout, another event) becomes the default card
    # and makes no second subscription.
    first_card = customer.invoice_settings.default_payment_method
    assert add_card(stack, owner_key, database_url, owner) == subscription_id

    def default_card() -> object:
        settings = client.v1.customers.retrieve(customer.id).invoice_settings
        return settings.default_payment_method if settings else None

    eventually(default_card, until=lambda card: card != first_card, timeout=30, what="new card")
    assert len(client.v1.subscriptions.list(params={"customer": customer.id}).data) == 1
    assert start_pod(stack, owner_key, "now-paid").status_code == 202

    with stack.api.client(owner_key) as http:
        usage = http.get("/v1/usage", params={"month": f"{hours[0]:%Y-%m}"}).json()
    billable = {t["tier"]: Decimal(t["billable_hours"]) for t in usage["by_tier"]}
    assert sum(billable.values()) == HOURS * 3 - 10 and billable["dev.large"] >= 1

    # The period ends: the emulator's clock passes the start of next month.
    period_end = int(next_month(hours[0]).timestamp())
    stripe_env.advance(period_end - stripe_env.now() + 120)

    invoice = owner_invoice(stack, owner_key, period_end)
    lines = {line["meter_event_name"]: line for line in invoice["lines"]}
    assert len(lines) == len(POD_PLANS) + 1
    for plan in POD_PLANS.values():
        hours_billed = billable.get(plan.tier.value, Decimal(0))
        line = lines[plan.meter_event_name]
        assert line["quantity"] == int(hours_billed * 3600), (plan.tier, line)
        assert line["billed_units"] == int(hours_billed)
        assert line["amount_cents"] == cents(hours_billed, plan.tier.value), (plan.tier, line)
    assert invoice["total_cents"] == sum(cents(h, tier) for tier, h in billable.items() if h > 0)
    assert invoice["status"] == "paid"

    # Prepaid: 5 billable hours of dev.xlarge, 2 paid by credits, 3 invoiced.
    prepaid_invoice = owner_invoice(stack, prepaid_key, period_end)
    xlarge = {line["meter_event_name"]: line for line in prepaid_invoice["lines"]}[
        POD_PLANS[PodTier.XLARGE].meter_event_name
    ]
    assert (xlarge["quantity"], xlarge["amount_cents"]) == (
        3 * 3600,
        cents(Decimal(3), "dev.xlarge"),
    )
    with stack.api.client(prepaid_key) as http:
        credits = Decimal(http.get("/v1/usage").json()["credits_usd"])
        # Another account's invoice is never visible, not even as a cursor.
        other = http.get("/v1/billing/invoices", params={"starting_after": invoice["id"]})
        assert other.status_code == 404, other.text
        mine = [i["id"] for i in http.get("/v1/billing/invoices").json()["data"]]
    assert credits == 0 and invoice["id"] not in mine
    assert prepaid_subscription != subscription_id

    # Reconciliation: each invoice line equals the ledger; a planted difference shows.
    month = f"{hours[0]:%Y-%m}"
    report = reconciliation(stack, month)
    assert report["differences"] == [] and report["invoice_differences"] == []
    assert (report["invoices"], report["invoice_lines"]) == (2, 2 * (len(POD_PLANS) + 1))
    ok = reconcile_cli(stack, month)
    assert ok.returncode == 0, ok.stderr
    assert "2 (10 metered lines), 0 invoice difference(s)" in ok.stdout
    planted = plant_difference(database_url, owner, POD_PLANS[PodTier.LARGE].meter_event_name)
    report = reconciliation(stack, month)
    [difference] = report["invoice_differences"]
    assert difference["invoice"] == invoice["id"]
    assert difference["event_name"] == planted
    assert difference["local"] == difference["stripe"] + 60
    found = reconcile_cli(stack, month)
    assert found.returncode == 1 and "1 invoice difference(s)" in found.stdout
    assert f"{invoice['id']} {planted}: ledger" in found.stdout


def reconciliation(stack: Stack, month: str) -> dict[str, Any]:
    with stack.api.admin() as admin:
        response = admin.get("/v1/admin/reconciliation", params={"month": month})
    assert response.status_code == 200, response.text
    return dict(response.json())


def reconcile_cli(stack: Stack, month: str) -> subprocess.CompletedProcess[str]:
    tenantry = str(Path(sys.executable).with_name("tenantry"))
    return subprocess.run(
        [tenantry, "usage", "reconcile", "--month", month, "--api-url", stack.api.url,
         "--token", ADMIN_TOKEN],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def plant_difference(database_url: str, account: uuid.UUID, event_name: str) -> str:
    """A minute more in one of the account's records than Stripe was told."""
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        record = session.scalars(
            select(UsageRecord)
            .where(
                UsageRecord.billed_account_id == account,
                UsageRecord.event_name == event_name,
                UsageRecord.meter_value > 0,
            )
            .limit(1)
        ).one()
        record.meter_value += 60
    engine.dispose()
    return event_name


def owner_invoice(stack: Stack, key: str, period_end: int) -> dict[str, Any]:
    """The account's invoice for the period ending at `period_end` (from the API)."""

    def find() -> dict[str, Any] | None:
        with stack.api.client(key) as http:
            page = http.get("/v1/billing/invoices", params={"limit": 10})
        assert page.status_code == 200, page.text
        for invoice in page.json()["data"]:
            end = datetime.fromisoformat(invoice["period_end"]).timestamp()
            if int(end) == period_end and invoice["lines"]:
                return dict(invoice)
        return None

    found: dict[str, Any] = eventually(find, timeout=30, what="the period's invoice", interval=0.2)
    return found


def test_an_unpaid_invoice_stops_pod_starts_after_the_grace_until_it_is_paid(
    stack_factory: Callable[..., Stack], stripe_env: StripeEmulator, database_url: str
) -> None:
    hours = closed_hours_this_month()
    stack = stack_factory(pods=True, account_payment_grace=3)
    stack.register_pod_hosts()
    key = stack.new_account("late@example.com")
    account = account_id(stack, key)
    add_card(stack, key, database_url, account)
    # A real pod, running on a real host when the invoice goes unpaid.
    running = start_pod(stack, key, "running-when-unpaid")
    assert running.status_code == 202, running.text
    pod_id = running.json()["pod_id"]
    pod = wait(stack, key, pod_id, status("running", "failed"), timeout=90)
    assert pod["status"] == "running", pod["error"]
    seed_pods(database_url, hours, [(account, "dev.medium")] * 3)
    with stack.api.admin() as admin:
        for hour in hours:
            assert admin.post("/v1/admin/metering/run", json={"hour": hour.isoformat()}).is_success
    customer = (
        stack.stripe()
        .v1.subscriptions.retrieve(str(subscription_of(database_url, account)))
        .customer
    )
    stripe_env.admin.post(f"/_admin/customers/{customer}/payment_behavior", {"fail": True})
    period_end = int(next_month(hours[0]).timestamp())
    stripe_env.advance(period_end - stripe_env.now() + 120)
    invoice = owner_invoice(stack, key, period_end)
    assert invoice["status"] == "open" and invoice["amount_due_cents"] > 0

    refused = eventually(
        lambda: start_pod(stack, key, "after-grace"),
        until=lambda r: r.status_code == 402,
        timeout=60,
        what=lambda last: f"a 402 after the grace: {last.text}\n{stack.worker_logs()}",
        interval=0.5,
    )
    assert "unpaid" in refused.json()["error"]["message"]
    assert refused.json()["error"]["details"]["invoice_overdue"] is True
    # After the grace, the running pod hibernates (snapshot kept), saying why.
    pod = wait(stack, key, pod_id, status("hibernated", "failed"), timeout=120)
    assert pod["status"] == "hibernated", pod["error"]
    assert pod["status_reason"] == BILLING_SOURCE
    assert pod["snapshot"] is not None

    stripe_env.admin.post(f"/_admin/customers/{customer}/payment_behavior", {"fail": False})
    assert stack.stripe().v1.invoices.pay(invoice["id"]).status == "paid"
    started = eventually(
        lambda: start_pod(stack, key, "paid-again"),
        until=lambda r: r.status_code != 402,
        timeout=60,
        what=lambda last: f"starts allowed once paid: {last.text}\n{stack.worker_logs()}",
        interval=0.5,
    )
    assert started.status_code == 202, started.text
    history = asyncio.run(billing_history(stack, account))
    if os.environ.get("TENANTRY_RECORD_HISTORIES"):
        (REPLAY / "account-billing-grace.json").write_text(history.to_json())


async def billing_history(stack: Stack, account: uuid.UUID) -> WorkflowHistory:
    """The account's billing workflow history, which replays on today's code."""
    client = await Client.connect(stack.settings.temporal_address, data_converter=DATA_CONVERTER)
    handle = client.get_workflow_handle(account_billing_workflow_id(str(account)))
    history = await handle.fetch_history()
    assert "billing_hibernate_pods" in history.to_json()
    await Replayer(workflows=workflows(), data_converter=DATA_CONVERTER).replay_workflow(history)
    return history
