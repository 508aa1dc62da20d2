"""Metering activities against real PostgreSQL and the Stripe emulator (no workflow)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session
from temporalio.testing import ActivityEnvironment

from activities.metering import MeteringActivities
from db.session import make_engine, make_sessionmaker
from tenantry.contracts import MeterPageInput, ReportUsageInput
from tenantry.metering import utc_hour
from tenantry.reconciliation import reconcile
from tests.fixtures.stripe import StripeEmulator
from tests.metering.test_metering_stack import ledger, seed


def test_pages_insert_once_and_report_once(database_url: str, stripe_env: StripeEmulator) -> None:
    hour = utc_hour(datetime.now(UTC)) - timedelta(hours=3)
    seed(database_url, hour, pods=12)
    engine = make_engine(database_url)
    client = stripe_env.client(retries=2)
    acts = MeteringActivities(
        make_sessionmaker(engine), client, stream_client=lambda t: stripe_env.client(key=t)
    )
    env = ActivityEnvironment()
    env.run(acts.ensure_meters)
    pages, after, inserted = 0, None, 0
    while True:
        page = env.run(
            acts.meter_usage_page, MeterPageInput(hour=hour, after_billed_account=after, limit=1)
        )
        pages += 1
        inserted += page.inserted
        after = page.next_after
        if after is None:
            break
    assert pages >= 2 and inserted > 0
    again = env.run(acts.meter_usage_page, MeterPageInput(hour=hour, limit=10))
    assert again.inserted == 0
    result = env.run(acts.report_usage, ReportUsageInput(hour=hour, limit=5))
    assert result.remaining
    while env.run(acts.report_usage, ReportUsageInput(hour=hour, limit=5)).remaining:
        pass
    assert all(reported for _, _, reported in ledger(database_url))
    with Session(engine) as session:
        assert reconcile(session, client, hour).differences == []
    engine.dispose()
