"""Idempotency keys: claim a key for a request, record its answer, purge expired keys.

The first request with a key inserts its row and keeps the transaction open until the
answer is recorded; a concurrent request with the same key blocks on that row's primary
key inside `claim` (PostgreSQL makes a conflicting INSERT wait for the open one), then
finds the committed answer, or, when the first rolled back, claims the key itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import IdempotencyKey

PURGE_BATCH = 100


@dataclass(frozen=True)
class FirstAnswer:
    """What the key's first request was and what it was answered (plain data: it outlives
    the session that read it)."""

    request_hash: str
    path: str
    status: int
    content_type: str | None
    body: bytes


async def claim(
    session: AsyncSession,
    *,
    identity: str,
    key: str,
    method: str,
    path: str,
    request_hash: str,
    expired_before: datetime,
) -> FirstAnswer | None:
    """None when this request is the key's first (its row is inserted, uncommitted);
    else what the request that used the key first was answered."""
    mine = (IdempotencyKey.identity == identity) & (IdempotencyKey.key == key)
    await session.execute(
        delete(IdempotencyKey).where(mine, IdempotencyKey.created_at < expired_before)
    )
    claimed = await session.scalar(
        insert(IdempotencyKey)
        .values(identity=identity, key=key, method=method, path=path, request_hash=request_hash)
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    )
    if claimed is not None:
        return None
    row = await session.scalar(select(IdempotencyKey).where(mine))
    if row is None:  # expired and purged between the insert and the read: vanishingly rare
        raise LookupError(f"idempotency key {key!r} vanished")
    return FirstAnswer(
        request_hash=row.request_hash,
        path=row.path,
        status=row.status if row.status is not None else 500,
        content_type=row.content_type,
        body=row.response_body or b"",
    )


async def record(
    session: AsyncSession,
    *,
    identity: str,
    key: str,
    status: int,
    content_type: str | None,
    body: bytes,
) -> None:
    """Stores the answer on the claimed row (the caller commits)."""
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.identity == identity, IdempotencyKey.key == key)
        .values(status=status, content_type=content_type, response_body=body)
    )


async def purge_expired(session: AsyncSession, expired_before: datetime) -> None:
    """Deletes up to PURGE_BATCH expired keys: lazily, a little on every claim, so no
    schedule is needed and no request pays for a large backlog at once."""
    oldest = (
        select(IdempotencyKey.identity, IdempotencyKey.key)
        .where(IdempotencyKey.created_at < expired_before)
        .limit(PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )
    pair = tuple_(IdempotencyKey.identity, IdempotencyKey.key)
    await session.execute(delete(IdempotencyKey).where(pair.in_(oldest)))
