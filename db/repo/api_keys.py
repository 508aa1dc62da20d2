"""An account's API keys: listing, adding and revoking them; noting when one was used.

Only digests are stored (`tenantry.crypto.generate_api_key`); a revoked key keeps its
row (`revoked_at`) so an audit can tell which key did what, and `key_and_account`
(db.repo.accounts) never finds it again: the next request with it is a 401, since
no cache sits between a request and this table.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Account, ApiKey
from db.repo.pagination import keyset_page
from tenantry.crypto import NewApiKey

LAST_USED_RESOLUTION = timedelta(minutes=1)
"""`last_used_at` is written at most this often per key: a write per request would
make every authenticated read a write."""


async def list_keys(
    session: AsyncSession, account_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
) -> tuple[list[ApiKey], bool]:
    """A page of the account's unrevoked keys, newest first, and whether more follow."""
    keys = [ApiKey.created_at, ApiKey.id]
    active = (ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None))
    cursor = None if after is None else select(*keys).where(ApiKey.id == after, *active)
    rows, more = await keyset_page(
        session,
        select(ApiKey).where(*active),
        keys=keys,
        cursor=cursor,
        limit=limit,
        descending=True,
    )
    return [row[0] for row in rows], more


async def count_keys(session: AsyncSession, account_id: uuid.UUID) -> int:
    """The account's unrevoked keys."""
    count = await session.scalar(
        select(func.count())
        .select_from(ApiKey)
        .where(ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None))
    )
    return int(count or 0)


async def lock_account(session: AsyncSession, account_id: uuid.UUID) -> None:
    """Serialises key changes of one account (two revokes cannot both pass the
    last-key check) until the transaction ends."""
    await session.execute(select(Account.id).where(Account.id == account_id).with_for_update())


async def add_key(
    session: AsyncSession, account_id: uuid.UUID, name: str | None, key: NewApiKey
) -> ApiKey:
    """A new key for the account (flushed, so it has its id and creation time)."""
    row = ApiKey(account_id=account_id, name=name, prefix=key.prefix, key_hash=key.digest)
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


async def key_for_update(
    session: AsyncSession, account_id: uuid.UUID, key_id: uuid.UUID
) -> ApiKey | None:
    """The account's unrevoked key with this id, locked (another account's: None)."""
    row: ApiKey | None = await session.scalar(
        select(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None))
        .with_for_update()
    )
    return row


async def note_use(session: AsyncSession, key: ApiKey, now: datetime) -> None:
    """Sets `last_used_at` when it is older than LAST_USED_RESOLUTION (or unset), in
    one conditional UPDATE; commits it (nothing else is pending then)."""
    stale = now - LAST_USED_RESOLUTION
    if key.last_used_at is not None and key.last_used_at > stale:
        return
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key.id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < stale))
        .values(last_used_at=now)
    )
    await session.commit()
    key.last_used_at = now
