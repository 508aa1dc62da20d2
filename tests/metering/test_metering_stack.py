"""Metering through the real stack: a real worker process, Temporal, PostgreSQL and the
Stripe emulator, with the worker killed mid-run and Stripe failing in every way."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from temporalio.client import Client

from db.models import Account, CreditEntry, MeteringRun, Pod, PodEvent, UsageRecord
from db.repo.reconciliation import reconcile
from db.session import make_engine
from devstack.faults import FaultRule
from tenantry.contracts.common import metering_workflow_id
from tenantry.contracts.metering import MeteringInput, MeteringResult
from tenantry.rules.metering import utc_hour
from tests.fixtures.stack import Stack
from tests.fixtures.stripe import StripeEmulator
from tests.support.poll import eventually_async

STREAM = "v2.billing.meter_event_stream.create"
REPLAY = Path(__file__).parents[1] / "replay" / "histories"


def seed(database_url: str, first_hour: datetime, pods: int = 30) -> dict[str, uuid.UUID]:
    """A team (owner + member, the owner prepaid) and a solo account with running pods."""
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        owner = Account(email="owner@example.com")
        solo = Account(email="solo@example.com")
        session.add_all([owner, solo])
        session.flush()
        member = Account(email="member@example.com", team_owner_id=owner.id)
        session.add(member)
        session.flush()
        session.add(
            CreditEntry(
                account_id=owner.id,
                delta=100,
                reason="prepaid",
                balance_after=100,
                reference=f"topup:{owner.id}",
            )
        )
        accounts = [owner, member, solo]
        tiers = ["dev.small", "dev.medium", "dev.large", "dev.xlarge"]
        for i in range(pods):
            tier = tiers[i % 4]
            pod = Pod(account_id=accounts[i % 3].id, name=f"p{i}", tier=tier, status="running")
            session.add(pod)
            session.flush()
            started = first_hour - timedelta(hours=1, minutes=i)
            session.add(PodEvent(pod_id=pod.id, kind="started", tier=tier, at=started))
            if i % 5 == 0:  # some change tier in the middle of the first hour
                session.add(
                    PodEvent(
                        pod_id=pod.id,
                        kind="tier_changed",
                        tier="dev.xlarge" if tier != "dev.xlarge" else "dev.small",
                        at=first_hour + timedelta(minutes=30),
                    )
                )
            if i % 7 == 0:
                session.add(
                    PodEvent(
                        pod_id=pod.id,
                        kind="stopped",
                        tier=tier,
                        at=first_hour + timedelta(hours=1, minutes=20),
                    )
                )
        ids = {"owner": owner.id, "member": member.id, "solo": solo.id}
    engine.dispose()
    return ids


async def run_hour(
    client: Client,
    stack: Stack,
    hour: datetime,
    *,
    catch_up: bool = False,
    suffix: str = "",
    report_batch: int = 40,
) -> MeteringResult:
    return await client.execute_workflow(
        "MeteringWorkflow",
        MeteringInput(hour=hour, catch_up=catch_up, page_size=2, report_batch=report_batch),
        id=metering_workflow_id(hour) + suffix,
        task_queue=stack.settings.task_queue,
        result_type=MeteringResult,
        execution_timeout=timedelta(minutes=3),
    )


def ledger(database_url: str) -> list[tuple[str, int, bool]]:
    engine = make_engine(database_url)
    with Session(engine) as session:
        rows = session.execute(
            select(
                UsageRecord.stripe_identifier,
                UsageRecord.meter_value,
                UsageRecord.reported_at.is_not(None),
            ).order_by(UsageRecord.stripe_identifier)
        ).all()
    engine.dispose()
    return [(a, b, c) for a, b, c in rows]


def differences(database_url: str, stack: Stack, month: datetime) -> list[object]:
    engine = make_engine(database_url)
    with Session(engine) as session:
        result = reconcile(session, stack.stripe(), month)
    engine.dispose()
    assert result.records > 0 and result.local_total == result.stripe_total
    return list(result.differences)


async def test_faults_and_a_killed_worker_bill_each_hour_once(
    stack_factory: Callable[..., Stack],
    stripe_env: StripeEmulator,
    temporal_client: Client,
    database_url: str,
) -> None:
    stack = stack_factory()
    hour = utc_hour(datetime.now(UTC)) - timedelta(hours=5)
    if hour.month != utc_hour(datetime.now(UTC)).month:
        hour = utc_hour(datetime.now(UTC)) - timedelta(hours=2)  # keep the test in one month
        hour = max(hour, utc_hour(datetime.now(UTC)).replace(day=1, hour=0))
    seed(database_url, hour)

    # Stripe fails in every way while the first hour is reported.
    stripe_env.admin.inject(
        FaultRule(operation=STREAM, status=429, code="rate_limit", times=2),
        FaultRule(operation=STREAM, status=500, times=1),
        FaultRule(operation=STREAM, action="drop", times=2),
        FaultRule(operation="billing.meters.create", action="drop", times=1),
        FaultRule(operation="customers.create", action="drop", times=1),
    )
    first = await run_hour(temporal_client, stack, hour)
    assert first.inserted > 0 and first.hours == [hour]
    stripe_env.admin.clear_faults()

    # The worker is killed while the next hour is being reported (latency holds it there).
    stripe_env.admin.inject(FaultRule(operation=STREAM, action="latency", latency_ms=400))
    second = asyncio.ensure_future(run_hour(temporal_client, stack, hour + timedelta(hours=1)))
    await eventually_async(
        lambda: any(r.operation == STREAM for r in stripe_env.admin.requests(STREAM)[-1:]),
        timeout=30,
        what=lambda _: stack.worker_logs(),
        interval=0.05,
    )
    await asyncio.sleep(0.3)
    stack.kill_worker()
    stripe_env.admin.clear_faults()
    stack.start_worker()
    await asyncio.wait_for(second, 120)

    before = ledger(database_url)
    assert before and all(reported for _, _, reported in before)
    assert differences(database_url, stack, hour) == []

    # Re-running both hours changes nothing, locally or at Stripe.
    again = await run_hour(temporal_client, stack, hour, suffix="-again")
    again2 = await run_hour(temporal_client, stack, hour + timedelta(hours=1), suffix="-again")
    assert again.inserted == 0 and again2.inserted == 0
    assert ledger(database_url) == before
    assert differences(database_url, stack, hour) == []

    # Prepaid: the owner's credits paid for the team's new usage, once per record.
    engine = make_engine(database_url)
    with Session(engine) as session:
        deductions = session.scalar(
            select(func.count())
            .select_from(CreditEntry)
            .where(CreditEntry.reference.like("usage:%"))
        )
        team_paid = session.scalar(
            select(func.count())
            .select_from(UsageRecord)
            .join(Account, Account.id == UsageRecord.billed_account_id)
            .where(Account.email == "owner@example.com", UsageRecord.cost > 0)
        )
    engine.dispose()
    assert deductions == team_paid and deductions


async def test_an_outage_is_caught_up_hour_by_hour(
    stack_factory: Callable[..., Stack],
    stripe_env: StripeEmulator,
    temporal_client: Client,
    database_url: str,
) -> None:
    stack = stack_factory()
    now = utc_hour(datetime.now(UTC))
    start = max(now - timedelta(hours=6), now.replace(day=1, hour=0))
    seed(database_url, start, pods=9)
    await run_hour(temporal_client, stack, start)
    # Three hours are missed; the next scheduled run meters them, oldest first, once.
    target = start + timedelta(hours=4)
    result = await run_hour(temporal_client, stack, target, catch_up=True)
    assert result.hours == [start + timedelta(hours=h) for h in (1, 2, 3, 4)]
    engine = make_engine(database_url)
    with Session(engine) as session:
        metered = list(session.scalars(select(MeteringRun.hour).order_by(MeteringRun.hour)))
        per_hour = session.execute(
            select(UsageRecord.hour, func.count()).group_by(UsageRecord.hour)
        ).all()
    engine.dispose()
    assert [h.astimezone(UTC) for h in metered] == [start + timedelta(hours=h) for h in range(5)]
    assert len(per_hour) >= 4
    again = await run_hour(temporal_client, stack, target, catch_up=True, suffix="-again")
    assert again.hours == [target] and again.inserted == 0
    assert differences(database_url, stack, start) == []
    if os.environ.get("TENANTRY_RECORD_HISTORIES"):
        history = await temporal_client.get_workflow_handle(
            metering_workflow_id(target)
        ).fetch_history()
        (REPLAY / "metering-catch-up.json").write_text(history.to_json())


def seed_solo_accounts(database_url: str, hour: datetime, accounts: int, pods: int) -> None:
    """Accounts of their own, each with `pods` pods running since before `hour`."""
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        for a in range(accounts):
            account = Account(email=f"solo{a}@example.com")
            session.add(account)
            session.flush()
            for i in range(pods):
                pod = Pod(account_id=account.id, name=f"p{i}", tier="dev.small", status="running")
                session.add(pod)
                session.flush()
                started = hour - timedelta(hours=1)
                session.add(PodEvent(pod_id=pod.id, kind="started", tier="dev.small", at=started))
    engine.dispose()


async def test_records_go_to_stripe_while_the_next_page_is_computed(
    stack_factory: Callable[..., Stack],
    stripe_env: StripeEmulator,
    temporal_client: Client,
    database_url: str,
) -> None:
    stack = stack_factory()
    now = utc_hour(datetime.now(UTC))
    hour = max(now - timedelta(hours=2), now.replace(day=1, hour=0))
    seed_solo_accounts(database_url, hour, accounts=8, pods=60)
    before = len(stripe_env.admin.requests(STREAM))
    result = await run_hour(temporal_client, stack, hour, report_batch=1000)
    records = ledger(database_url)
    billable = [value for _, value, _ in records if value > 0]
    assert result.inserted == len(records) == 480 and result.reported == len(records)
    assert all(reported for _, _, reported in records)
    # Only whole requests while pages were still coming: ceil(n / 100) for the hour.
    assert len(stripe_env.admin.requests(STREAM)) - before == -(-len(billable) // 100)
    assert differences(database_url, stack, hour) == []

    # The history shows reports scheduled before the last page was: they overlapped.
    history = await temporal_client.get_workflow_handle(metering_workflow_id(hour)).fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    pages = [i for i, name in enumerate(scheduled) if name == "meter_usage_page"]
    reports = [i for i, name in enumerate(scheduled) if name == "report_usage"]
    assert len(pages) == 4 and reports[0] < pages[-1], scheduled
    if os.environ.get("TENANTRY_RECORD_HISTORIES"):
        (REPLAY / "metering-reported-while-metering.json").write_text(history.to_json())
