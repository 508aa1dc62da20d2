"""Prepaid credits of an account (admin): top up once per reference, read the ledger.

An account with any ledger entry is prepaid: metering pays its team's usage from the
balance. Credits belong to the billed account (the team owner); a member's top-up is
refused. A top-up during a depletion's grace period tells `credits-{account_id}`, which
ends the grace period when the balance is above zero; pods already hibernated stay so.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from temporalio.service import RPCError, RPCStatusCode

from api.deps import AdminDep, SessionDep, TemporalDep
from api.errors import ApiError, not_found
from db.models import Account, AuditLogEntry, CreditEntry
from db.repo.credits import ReferenceConflict, add_credits
from tenantry.contracts.common import credits_workflow_id
from tenantry.contracts.credits import CreditsTopUp

router = APIRouter(prefix="/v1/admin/accounts", tags=["admin"], dependencies=[AdminDep])
log = logging.getLogger("tenantry.api.credits")

Reference = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$",
        description="your unique id for this top-up (an invoice, a payment); a retry with "
        "the same reference adds nothing",
    ),
]


class CreditsAdd(BaseModel):
    amount_usd: Decimal = Field(gt=0, le=1_000_000, decimal_places=6, examples=["25.00"])
    reference: Reference
    reason: str | None = Field(default=None, max_length=500)


class CreditsAdded(BaseModel):
    account_id: str
    entry_id: int
    amount_usd: Decimal
    balance_usd: Decimal
    reference: str
    applied: bool = Field(description="false: this reference was applied before")


class LedgerEntry(BaseModel):
    entry_id: int
    delta_usd: Decimal
    balance_usd: Decimal
    reason: str
    reference: str
    at: datetime


class CreditsView(BaseModel):
    account_id: str
    prepaid: bool
    balance_usd: Decimal | None
    entries: list[LedgerEntry] = Field(description="the latest 50, newest first")


@router.post(
    "/{account_id}/credits",
    status_code=201,
    response_model=CreditsAdded,
    responses={200: {"model": CreditsAdded, "description": "the reference was applied before"}},
)
async def add_account_credits(
    *,
    account_id: uuid.UUID,
    body: CreditsAdd,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
) -> CreditsAdded:
    """Adds credits once per `reference`: 201 when added, 200 when it was added before."""
    account = await _billed_account(session, account_id)
    try:
        top_up = await add_credits(
            session, account.id, body.amount_usd, body.reference, body.reason or "top-up"
        )
    except ReferenceConflict as exc:
        await session.rollback()
        raise ApiError(
            409,
            "conflict",
            "this reference was used for another amount",
            {"reference": body.reference, "amount_usd": str(exc.amount)},
        ) from exc
    if top_up.applied:
        session.add(
            AuditLogEntry(
                actor="admin",
                action="account.credits",
                target=f"account:{account.id}",
                details={"amount_usd": str(body.amount_usd), "reference": body.reference},
            )
        )
    await session.commit()
    if not top_up.applied:
        response.status_code = 200
    await _tell_credits_workflow(temporal, account.id, body.reference, top_up.balance)
    return CreditsAdded(
        account_id=str(account.id),
        entry_id=top_up.entry_id,
        amount_usd=top_up.amount,
        balance_usd=top_up.balance,
        reference=body.reference,
        applied=top_up.applied,
    )


@router.get("/{account_id}/credits", response_model=CreditsView)
async def account_credits(*, account_id: uuid.UUID, session: SessionDep) -> CreditsView:
    """The balance and the latest ledger entries (top-ups and usage deductions)."""
    account = await session.get(Account, account_id)
    if account is None:
        raise not_found("account")
    entries = (
        await session.scalars(
            select(CreditEntry)
            .where(CreditEntry.account_id == account_id)
            .order_by(CreditEntry.id.desc())
            .limit(50)
        )
    ).all()
    return CreditsView(
        account_id=str(account_id),
        prepaid=bool(entries),
        balance_usd=entries[0].balance_after if entries else None,
        entries=[
            LedgerEntry(
                entry_id=e.id,
                delta_usd=e.delta,
                balance_usd=e.balance_after,
                reason=e.reason,
                reference=e.reference,
                at=e.created_at,
            )
            for e in entries
        ],
    )


async def _billed_account(session: SessionDep, account_id: uuid.UUID) -> Account:
    account = await session.get(Account, account_id)
    if account is None:
        raise not_found("account")
    if account.team_owner_id is not None:
        raise ApiError(
            409,
            "conflict",
            "this account is a team member: its usage is billed to the team owner, "
            "so credits go to the owner",
            {"team_owner_id": str(account.team_owner_id)},
        )
    return account


async def _tell_credits_workflow(
    temporal: TemporalDep, account_id: uuid.UUID, reference: str, balance: Decimal
) -> None:
    """Best effort: a grace period that misses this checks the balance when it ends."""
    handle = temporal.get_workflow_handle(credits_workflow_id(str(account_id)))
    try:
        await handle.signal("topped_up", CreditsTopUp(reference=reference, balance=balance))
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: no depletion under way
            log.warning("could not tell credits-%s about a top-up: %s", account_id, exc.message)
