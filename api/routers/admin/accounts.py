"""Accounts (admin): create one with its first API key, and its prepaid credits.

An account with any ledger entry is prepaid: metering pays its team's usage from the
balance. Credits belong to the billed account (the team owner); a member's top-up is
refused. A top-up is applied once per reference; during a depletion's grace period it
tells `credits-{account_id}`, which ends the grace period when the balance is above
zero; pods already hibernated stay so.
"""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.deps import AdminDep, SessionDep, TemporalDep
from api.errors import ApiError, not_found
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from api.responses import BODY, errors
from api.schemas.accounts import AccountCreate, AccountCreated
from api.schemas.credits import CreditsAdd, CreditsAdded, CreditsView, ledger_entry
from db.models import Account
from db.repo import accounts as repo
from db.repo.audit import audit
from db.repo.credits import ReferenceConflict, add_credits, latest_balance, latest_entries
from tenantry.contracts.common import credits_workflow_id
from tenantry.contracts.credits import CreditsTopUp
from tenantry.crypto import generate_api_key
from workflows.credits import CreditsWorkflow

router = APIRouter(
    prefix="/v1/admin/accounts", tags=["admin"], dependencies=[AdminDep], responses=errors(401)
)
log = logging.getLogger("tenantry.api.credits")


@router.post("", status_code=201, response_model=AccountCreated, responses=errors(*BODY, 409))
async def create_account(*, body: AccountCreate, session: SessionDep) -> AccountCreated:
    """Creates an account and its first API key; the key is shown only in this answer."""
    email = str(body.email).lower()
    if await repo.email_taken(session, email):
        raise ApiError(409, "conflict", "an account with this email exists", {"email": email})
    key = generate_api_key()
    account = await repo.create_account(
        session, email=email, name=body.name, key_prefix=key.prefix, key_hash=key.digest
    )
    audit(session, actor="admin", action="account.create", target=f"account:{account.id}")
    await session.commit()
    return AccountCreated(account_id=str(account.id), api_key=key.plaintext)


@router.post(
    "/{account_id}/credits",
    status_code=201,
    response_model=CreditsAdded,
    responses={
        200: {"model": CreditsAdded, "description": "the reference was applied before"},
        **errors(*BODY, 404, 409),
    },
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
        audit(
            session,
            actor="admin",
            action="account.credits",
            target=f"account:{account.id}",
            details={"amount_usd": str(body.amount_usd), "reference": body.reference},
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


@router.get("/{account_id}/credits", response_model=CreditsView, responses=errors(404, 422))
async def account_credits(
    *,
    account_id: uuid.UUID,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    starting_after: Annotated[int | None, Query(description="an entry_id")] = None,
) -> CreditsView:
    """The balance and a page of the ledger (top-ups and usage deductions), newest first,
    paged like every list (entries are the list; their ids are integers)."""
    if await repo.get_account(session, account_id) is None:
        raise not_found("account")
    balance = await latest_balance(session, account_id)
    entries, more = await latest_entries(session, account_id, after=starting_after, limit=limit)
    return CreditsView(
        account_id=str(account_id),
        prepaid=balance is not None,
        balance_usd=balance,
        entries=[ledger_entry(e) for e in entries],
        has_more=more,
    )


async def _billed_account(session: AsyncSession, account_id: uuid.UUID) -> Account:
    account = await repo.get_account(session, account_id)
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
    temporal: Client, account_id: uuid.UUID, reference: str, balance: Decimal
) -> None:
    """Best effort: a grace period that misses this checks the balance when it ends."""
    handle = temporal.get_workflow_handle(credits_workflow_id(str(account_id)))
    top_up = CreditsTopUp(reference=reference, balance=balance)
    try:
        await handle.signal(CreditsWorkflow.topped_up, top_up)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: no depletion under way
            log.warning("could not tell credits-%s about a top-up: %s", account_id, exc.message)
