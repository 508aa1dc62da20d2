"""Metering activities against real PostgreSQL and the Stripe emulator (no workflow)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session
from temporalio.testing import ActivityEnvironment

from activities.metering import MeteringActivities
from activities.pods.records import PodRecordActivities
from db.models import Account, Pod, PodEvent, Snapshot, UsageRecord
from db.repo.reconciliation import reconcile
from db.session import make_async_engine, make_async_sessionmaker, make_engine, make_sessionmaker
from tenantry.contracts.metering import MeterPageInput, ReportUsageInput
from tenantry.contracts.pod import SnapshotStatusChange
from tenantry.contracts.podhost import SnapshotRef
from tenantry.rules.metering import GB, HOUR, utc_hour
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


async def test_snapshot_storage_is_billed_until_the_snapshot_is_deleted(
    database_url: str, stripe_env: StripeEmulator
) -> None:
    hour = utc_hour(datetime.now(UTC)) - timedelta(hours=2)
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        owner = Account(email="snapshots@example.com")
        session.add(owner)
        session.flush()
        pods = [Pod(account_id=owner.id, name=f"s{i}", tier="dev.small") for i in range(3)]
        session.add_all(pods)
        session.flush()
        for pod in pods:  # hibernated long before the hour: only storage is billed
            session.add(
                PodEvent(pod_id=pod.id, kind="hibernated", tier="dev.small", at=hour - HOUR)
            )
        pod_ids = [pod.id for pod in pods]

    # Through the activity the pod workflow uses: ready, then deleted (twice: a retry).
    records = PodRecordActivities(
        make_async_sessionmaker(make_async_engine(database_url)),
        heartbeat_timeout=timedelta(seconds=90),
    )
    env = ActivityEnvironment()
    snapshot_ids = [str(uuid.uuid4()) for _ in pod_ids]
    for pod_id, snapshot_id in zip(pod_ids, snapshot_ids, strict=True):
        ref = SnapshotRef(bucket="b", key=f"k/{snapshot_id}", sha256="0" * 64, size=3 * GB)
        change = SnapshotStatusChange(
            snapshot_id=snapshot_id, pod_id=str(pod_id), status="ready", ref=ref
        )
        await env.run(records.pod_record_snapshot, change)
    deleted = SnapshotStatusChange(
        snapshot_id=snapshot_ids[0], pod_id=str(pod_ids[0]), status="deleted", ref=ref
    )
    await env.run(records.pod_record_snapshot, deleted)
    with Session(engine) as session:
        first = session.get_one(Snapshot, uuid.UUID(snapshot_ids[0])).deleted_at
    await env.run(records.pod_record_snapshot, deleted)
    with Session(engine) as session, session.begin():
        assert first is not None
        assert session.get_one(Snapshot, uuid.UUID(snapshot_ids[0])).deleted_at == first
        # Move the times into the past: stored since before the hour; the first deleted
        # 20 minutes into it, the third deleted before `deleted_at` was recorded.
        session.execute(update(Snapshot).values(completed_at=hour - 2 * HOUR))
        session.execute(
            update(Snapshot)
            .where(Snapshot.id == uuid.UUID(snapshot_ids[0]))
            .values(deleted_at=hour + timedelta(minutes=20))
        )
        session.execute(
            update(Snapshot)
            .where(Snapshot.id == uuid.UUID(snapshot_ids[2]))
            .values(status="deleted", deleted_at=None)
        )

    client = stripe_env.client(retries=2)
    acts = MeteringActivities(
        make_sessionmaker(engine), client, stream_client=lambda t: stripe_env.client(key=t)
    )
    for metered in (hour, hour + HOUR):
        env.run(acts.meter_usage_page, MeterPageInput(hour=metered, limit=10))
    with Session(engine) as session:
        rows = session.execute(
            select(UsageRecord.pod_id, UsageRecord.hour, UsageRecord.seconds).where(
                UsageRecord.kind == "snapshot", UsageRecord.pod_id.in_(pod_ids)
            )
        ).all()
    engine.dispose()
    billed = {(pod_ids.index(p), h.astimezone(UTC)): s for p, h, s in rows}
    assert billed == {
        (0, hour): 3 * 1200,  # 3 GB for the 20 minutes before it was deleted
        (1, hour): 3 * 3600,
        (1, hour + HOUR): 3 * 3600,
    }


def test_a_page_of_more_records_than_one_statement_has_parameters_for(
    database_url: str, stripe_env: StripeEmulator
) -> None:
    """5,000 pods of one account are one page: 5,000 usage records in one write.

    Bound row by row that is ~70,000 parameters, past PostgreSQL's 65,535: the page then
    failed on every retry and the hour was never metered.
    """
    hour = utc_hour(datetime.now(UTC)) - timedelta(hours=2)
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        account = Account(email="many@example.com")
        session.add(account)
        session.flush()
        pod_ids = [uuid.uuid4() for _ in range(5000)]
        session.execute(
            insert(Pod),
            [
                {"id": p, "account_id": account.id, "name": f"p{i}", "tier": "dev.small"}
                | {"status": "running"}
                for i, p in enumerate(pod_ids)
            ],
        )
        session.execute(
            insert(PodEvent),
            [
                {"pod_id": p, "kind": "started", "tier": "dev.small", "at": hour - HOUR}
                for p in pod_ids
            ],
        )
    acts = MeteringActivities(
        make_sessionmaker(engine),
        stripe_env.client(retries=2),
        stream_client=lambda t: stripe_env.client(key=t),
    )
    page = ActivityEnvironment().run(acts.meter_usage_page, MeterPageInput(hour=hour, limit=500))
    assert page.inserted == 5000 and page.next_after is None
    with Session(engine) as session:
        billed = session.scalars(select(UsageRecord.quantity).where(UsageRecord.hour == hour))
        assert sorted(set(billed)) == [1]  # every pod ran the whole hour
    engine.dispose()
