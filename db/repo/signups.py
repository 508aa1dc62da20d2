"""Signups as the API reads them: one by id, the admin's list and its reset points."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ProvisioningLogEntry, Signup
from db.repo.pagination import keyset_page


async def get_signup(session: AsyncSession, signup_id: uuid.UUID) -> Signup | None:
    return await session.get(Signup, signup_id)


async def signup_status_for_checkout(session: AsyncSession, checkout_session_id: str) -> str | None:
    """The status of the signup a Checkout session belongs to (None: no such signup)."""
    status: str | None = await session.scalar(
        select(Signup.status).where(Signup.stripe_checkout_session_id == checkout_session_id)
    )
    return status


async def recent_signups(
    session: AsyncSession, status: str | None = None, *, after: uuid.UUID | None, limit: int
) -> tuple[list[Signup], bool]:
    """A page of signups, newest first, of one status when given, after signup `after`;
    and whether more follow."""
    keys = [Signup.created_at, Signup.id]
    query = select(Signup)
    if status is not None:
        query = query.where(Signup.status == status)
    cursor = None if after is None else select(*keys).where(Signup.id == after)
    rows, more = await keyset_page(
        session, query, keys=keys, cursor=cursor, limit=limit, descending=True
    )
    return [row[0] for row in rows], more


async def reset_points(session: AsyncSession, signup_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The latest logged reset point of each signup's provisioning (one query)."""
    if not signup_ids:
        return {}
    rows = await session.execute(
        select(ProvisioningLogEntry.signup_id, ProvisioningLogEntry.details)
        .where(
            ProvisioningLogEntry.signup_id.in_(signup_ids),
            ProvisioningLogEntry.action == "provisioning.started",
        )
        .order_by(ProvisioningLogEntry.id)
    )
    return {
        signup_id: int(details["reset_event_id"])
        for signup_id, details in rows
        if signup_id is not None and "reset_event_id" in details
    }
