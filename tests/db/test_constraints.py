"""Business keys are unique, so writers can rely on INSERT ... ON CONFLICT."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from db.models import Account, CreditEntry, Pod, ProcessedWebhookEvent, Signup, UsageRecord
from db.repo.usage import insert_usage_record
from db.repo.webhooks import claim_webhook_event
from db.session import make_async_sessionmaker
from tenantry.crypto import hash_secret

HOUR = datetime(2025, 3, 1, 12, tzinfo=UTC)


def _account_and_pod(session: Session) -> tuple[Account, Pod]:
    account = Account(email=f"{uuid.uuid4().hex[:8]}@example.com", stripe_customer_id=None)
    session.add(account)
    session.flush()
    pod = Pod(account_id=account.id, name="dev", tier="dev.medium")
    session.add(pod)
    session.flush()
    return account, pod


async def test_usage_records_once_per_pod_hour_kind(
    db_engine: Engine, async_db_engine: AsyncEngine
) -> None:
    with Session(db_engine, expire_on_commit=False) as session:
        account, pod = _account_and_pod(session)
        session.commit()

    sessions = make_async_sessionmaker(async_db_engine)
    results = []
    for quantity in (Decimal("1"), Decimal("0.5")):  # a re-run computes a different value
        async with sessions() as session, session.begin():
            results.append(
                await insert_usage_record(
                    session,
                    pod_id=pod.id,
                    hour=HOUR,
                    tier="dev.medium",
                    account_id=account.id,
                    billed_account_id=account.billing_account_id,
                    billed_customer_id="cus_1",
                    quantity=quantity,
                    cost=quantity * Decimal("0.017"),
                )
            )
    assert results == [True, False]

    with Session(db_engine, expire_on_commit=False) as session:
        rows = session.scalars(select(UsageRecord)).all()
        assert len(rows) == 1
        assert rows[0].quantity == Decimal("1") and rows[0].cost == Decimal("0.017")
        assert rows[0].stripe_identifier == f"{pod.id}:2025-03-01T12:runtime"

        # Without ON CONFLICT the database itself refuses the duplicate.
        session.add(
            UsageRecord(
                pod_id=pod.id,
                hour=HOUR,
                kind="runtime",
                tier="dev.medium",
                account_id=account.id,
                billed_account_id=account.id,
                quantity=Decimal("1"),
                cost=Decimal("0.017"),
                stripe_identifier="other",
            )
        )
        with pytest.raises(IntegrityError):
            session.flush()


async def test_webhook_event_processed_once(async_db_engine: AsyncEngine) -> None:
    sessions = make_async_sessionmaker(async_db_engine)
    claims = []
    for _ in range(3):
        async with sessions() as session, session.begin():
            claims.append(
                await claim_webhook_event(session, "evt_123", "checkout.session.completed")
            )
    assert claims == [True, False, False]

    async with sessions() as session, session.begin():
        # A claim whose transaction rolls back leaves the event unclaimed.
        assert await claim_webhook_event(session, "evt_456", "invoice.paid")
        await session.rollback()
    async with sessions() as session, session.begin():
        assert await claim_webhook_event(session, "evt_456", "invoice.paid")
        count = await session.scalar(select(func.count()).select_from(ProcessedWebhookEvent))
    assert count == 2


def test_one_live_signup_per_subdomain(db_engine: Engine) -> None:
    def signup(status: str) -> Signup:
        return Signup(
            email="a@example.com",
            subdomain="acme",
            tier="starter",
            status=status,
            status_token_hash=hash_secret(uuid.uuid4().hex),
        )

    with Session(db_engine, expire_on_commit=False) as session:
        session.add_all([signup("failed"), signup("expired"), signup("pending")])
        session.commit()
        session.add(signup("paid"))
        with pytest.raises(IntegrityError):
            session.commit()


def test_credit_reference_applies_once(db_engine: Engine) -> None:
    with Session(db_engine, expire_on_commit=False) as session:
        account, _ = _account_and_pod(session)
        values = {
            "account_id": account.id,
            "delta": Decimal("5"),
            "reason": "promo",
            "balance_after": Decimal("5"),
            "reference": "promo:2025-03",
        }
        first = session.execute(
            insert(CreditEntry).values(values).on_conflict_do_nothing().returning(CreditEntry.id)
        ).scalar_one_or_none()
        second = session.execute(
            insert(CreditEntry).values(values).on_conflict_do_nothing().returning(CreditEntry.id)
        ).scalar_one_or_none()
        assert first is not None and second is None


def test_check_constraints_refuse_unknown_status(db_engine: Engine) -> None:
    with Session(db_engine, expire_on_commit=False) as session:
        _, pod = _account_and_pod(session)
        pod.status = "exploded"
        with pytest.raises(IntegrityError):
            session.flush()
