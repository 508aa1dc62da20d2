"""Accounts and their API keys: creating an account with its first key, and finding the
account a presented key belongs to."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Account, ApiKey


async def get_account(session: AsyncSession, account_id: uuid.UUID) -> Account | None:
    return await session.get(Account, account_id)


async def key_and_account(session: AsyncSession, key_hash: str) -> tuple[ApiKey, Account] | None:
    """The unrevoked key with this digest and its account, in one query (it runs before
    every account route).

    Looked up by `key_hash`, the unique SHA-256 of the whole key, never by the displayed
    prefix: 8 hex digits collide (birthday bound ~65k keys), and a prefix lookup that took
    the first match would lock the other key's owner out.
    """
    query = (
        select(ApiKey, Account)
        .join(Account, Account.id == ApiKey.account_id)
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def email_taken(session: AsyncSession, email: str) -> bool:
    return await session.scalar(select(Account.id).where(Account.email == email)) is not None


async def create_account(
    session: AsyncSession, *, email: str, name: str | None, key_prefix: str, key_hash: str
) -> Account:
    """An account with its first API key, named `default` (flushed; commit after)."""
    account = Account(email=email, name=name)
    session.add(account)
    await session.flush()
    session.add(ApiKey(account_id=account.id, name="default", prefix=key_prefix, key_hash=key_hash))
    return account
