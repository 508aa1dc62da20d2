"""The credits ledger: balances, depletions and top-ups, as statements both the sync
(metering) and the async (API, activities) sessions run.

Every change to a balance is one `credits_ledger` row under a unique `reference`, and
writers lock the account row first, so `balance_after` is a true running total.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Account, CreditEntry
from db.sql import one_of


def latest_balances(account_ids: Iterable[uuid.UUID]) -> Select[uuid.UUID, Decimal]:
    """(account, balance) for each of these accounts with any ledger entry (prepaid)."""
    return (
        select(CreditEntry.account_id, CreditEntry.balance_after)
        .where(one_of(CreditEntry.account_id, list(account_ids)))
        .ext(distinct_on(CreditEntry.account_id))
        .order_by(CreditEntry.account_id, CreditEntry.id.desc())
    )


def depletion_episode(account_id: uuid.UUID) -> Select[int]:
    """The entry that started the current run of non-positive balances: the first entry
    after the last one that left the balance above zero. Only meaningful at <= 0."""
    last_positive = (
        select(func.coalesce(func.max(CreditEntry.id), 0))
        .where(CreditEntry.account_id == account_id, CreditEntry.balance_after > 0)
        .scalar_subquery()
    )
    return select(func.min(CreditEntry.id)).where(
        CreditEntry.account_id == account_id, CreditEntry.id > last_positive
    )


def topup_reference(account_id: uuid.UUID, reference: str) -> str:
    """The ledger's unique reference of a top-up: per account, so two accounts may share
    an external reference (an invoice number) without clashing."""
    return f"topup:{account_id}:{reference}"


@dataclass(frozen=True)
class TopUp:
    entry_id: int
    amount: Decimal
    balance: Decimal
    applied: bool  # False: this reference was applied before, nothing changed now


class ReferenceConflict(Exception):
    """The reference was used before for another amount."""

    def __init__(self, amount: Decimal) -> None:
        super().__init__(f"the reference was already used for {amount}")
        self.amount = amount


async def latest_balance(session: AsyncSession, account_id: uuid.UUID) -> Decimal | None:
    """The account's balance after its latest entry; None when it has none (not prepaid)."""
    balance: Decimal | None = await session.scalar(
        select(CreditEntry.balance_after)
        .where(CreditEntry.account_id == account_id)
        .order_by(CreditEntry.id.desc())
        .limit(1)
    )
    return balance


async def latest_entries(
    session: AsyncSession, account_id: uuid.UUID, *, after: int | None, limit: int
) -> tuple[list[CreditEntry], bool]:
    """A page of the account's ledger entries, newest first, after entry `after` (the
    ids only grow, so the id alone is the keyset); and whether more follow."""
    query = select(CreditEntry).where(CreditEntry.account_id == account_id)
    if after is not None:
        query = query.where(CreditEntry.id < after)
    rows = (await session.scalars(query.order_by(CreditEntry.id.desc()).limit(limit + 1))).all()
    return list(rows[:limit]), len(rows) > limit


async def add_credits(
    session: AsyncSession, account_id: uuid.UUID, amount: Decimal, reference: str, reason: str
) -> TopUp:
    """Adds `amount` once per reference (in the caller's transaction; commit after)."""
    await session.execute(select(Account.id).where(Account.id == account_id).with_for_update())
    key = topup_reference(account_id, reference)
    existing = await session.scalar(select(CreditEntry).where(CreditEntry.reference == key))
    if existing is None:
        balance = await latest_balance(session, account_id)
        entry = CreditEntry(
            account_id=account_id,
            delta=amount,
            reason=reason,
            balance_after=(balance or Decimal(0)) + amount,
            reference=key,
        )
        session.add(entry)
        await session.flush()
        return TopUp(entry.id, amount, entry.balance_after, applied=True)
    if existing.delta != amount:
        raise ReferenceConflict(existing.delta)
    balance = await latest_balance(session, account_id)
    return TopUp(existing.id, existing.delta, balance or Decimal(0), applied=False)
