"""Teams: members, invitations and joining, as statements in the caller's transaction.

A team is its owner's account plus the accounts whose `team_owner_id` is the owner. An
invitation is found by its token's digest and locked while it is accepted, so a token
works once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Account, TeamInvite


async def in_team(session: AsyncSession, owner_id: uuid.UUID, email: str) -> bool:
    """True when the owner or one of the team's members has this address."""
    member = await session.scalar(
        select(Account.id).where(
            Account.email == email,
            or_(Account.id == owner_id, Account.team_owner_id == owner_id),
        )
    )
    return member is not None


async def revoke_open_invites(
    session: AsyncSession, owner_id: uuid.UUID, email: str, now: datetime
) -> None:
    """Revokes the team's open invitations of this address (flushed)."""
    for old in await session.scalars(
        select(TeamInvite).where(
            TeamInvite.team_owner_id == owner_id,
            TeamInvite.email == email,
            TeamInvite.accepted_at.is_(None),
            TeamInvite.revoked_at.is_(None),
        )
    ):
        old.revoked_at = now
    await session.flush()


async def add_invite(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    email: str,
    token_hash: str,
    invited_by_id: uuid.UUID,
    expires_at: datetime,
) -> TeamInvite:
    """A new invitation (flushed, so it has its id; commit after)."""
    row = TeamInvite(
        team_owner_id=owner_id,
        email=email,
        token_hash=token_hash,
        invited_by_id=invited_by_id,
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return row


async def invite_for_update(session: AsyncSession, token_hash: str) -> TeamInvite | None:
    """The invitation with this token digest, locked until the caller's commit."""
    row: TeamInvite | None = await session.scalar(
        select(TeamInvite).where(TeamInvite.token_hash == token_hash).with_for_update()
    )
    return row


def accept_invite(row: TeamInvite, account: Account, now: datetime) -> None:
    """The account joins the inviting team; the invitation is used up (commit after)."""
    account.team_owner_id = row.team_owner_id
    row.accepted_at, row.accepted_account_id = now, account.id


async def has_members(session: AsyncSession, owner_id: uuid.UUID) -> bool:
    member = await session.scalar(
        select(Account.id).where(Account.team_owner_id == owner_id).limit(1)
    )
    return member is not None


async def members(session: AsyncSession, owner_id: uuid.UUID) -> Sequence[Account]:
    """The owner and the members, oldest account first."""
    return (
        await session.scalars(
            select(Account)
            .where(or_(Account.id == owner_id, Account.team_owner_id == owner_id))
            .order_by(Account.created_at)
        )
    ).all()


async def open_invites(session: AsyncSession, owner_id: uuid.UUID) -> Sequence[TeamInvite]:
    """Invitations neither accepted, revoked nor expired, oldest first."""
    return (
        await session.scalars(
            select(TeamInvite)
            .where(
                TeamInvite.team_owner_id == owner_id,
                TeamInvite.accepted_at.is_(None),
                TeamInvite.revoked_at.is_(None),
                TeamInvite.expires_at > datetime.now(UTC),
            )
            .order_by(TeamInvite.created_at)
        )
    ).all()
