"""Self-serve sign-up links: written on request, spent once on verification.

A link is found by its token's digest and locked while it is spent, so two requests
with one token cannot both get a key. Spending it takes an advisory lock on the
address, so two links for one new address create one account, not a unique violation.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Account, AccountVerification


async def add_verification(
    session: AsyncSession, *, email: str, token_hash: str, expires_at: datetime
) -> AccountVerification:
    """A new link for `email` (flushed; commit after)."""
    row = AccountVerification(email=email, token_hash=token_hash, expires_at=expires_at)
    session.add(row)
    await session.flush()
    return row


async def verification_for_update(
    session: AsyncSession, token_hash: str
) -> AccountVerification | None:
    """The link with this token digest, locked until the caller's commit."""
    row: AccountVerification | None = await session.scalar(
        select(AccountVerification)
        .where(AccountVerification.token_hash == token_hash)
        .with_for_update()
    )
    return row


async def lock_email(session: AsyncSession, email: str) -> None:
    """Serialises account creation for one address until the transaction ends."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(email, 0))))


async def account_by_email(session: AsyncSession, email: str) -> Account | None:
    account: Account | None = await session.scalar(select(Account).where(Account.email == email))
    return account


def spend(row: AccountVerification, account_id: uuid.UUID, now: datetime) -> None:
    """The link is used up, for this account (commit after)."""
    row.used_at, row.account_id = now, account_id
