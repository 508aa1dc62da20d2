"""The caller's team: who is in it, who pays, and invitations (API key required).

A team is its owner's account plus the accounts that joined it; the owner's Stripe
customer pays for everyone's usage (metering bills `team_owner_id or id`). Only the
owner invites. The invitation token travels by email alone, is stored as a digest and
works once, before it expires, for the invited address: an account holding a
forwarded token cannot join in someone else's name.
"""

from __future__ import annotations

import asyncio
import secrets
import smtplib
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import CurrentAccount, SessionDep, SettingsDep
from api.errors import ApiError, not_found
from api.responses import BODY, errors
from api.schemas.team import (
    InviteCreate,
    InviteView,
    JoinRequest,
    TeamView,
    invite_view,
    team_view,
)
from db.models import Account, TeamInvite
from db.repo import team as repo
from tenantry.clients.smtp import smtp_mailer
from tenantry.crypto import hash_secret
from tenantry.settings import ApiSettings

router = APIRouter(prefix="/v1/team", tags=["team"], responses=errors(401))

INVITE_TOKEN_PREFIX = "tinv_"


@router.get("", response_model=TeamView)
async def get_team(*, account: CurrentAccount, session: SessionDep) -> TeamView:
    return await _team_view(session, account)


@router.post(
    "/invites", status_code=201, response_model=InviteView, responses=errors(*BODY, 403, 409, 503)
)
async def invite(
    *, body: InviteCreate, account: CurrentAccount, session: SessionDep, settings: SettingsDep
) -> InviteView:
    """Invites an address to the caller's team; inviting it again replaces the open invite."""
    if account.team_owner_id is not None:
        raise ApiError(403, "forbidden", "only the team owner invites")
    email = str(body.email).lower()
    if await repo.in_team(session, account.id, email):
        raise ApiError(409, "conflict", f"{email} is in the team already")
    now = datetime.now(UTC)
    await repo.revoke_open_invites(session, account.id, email, now)
    token = INVITE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = await repo.add_invite(
        session,
        owner_id=account.id,
        email=email,
        token_hash=hash_secret(token),
        invited_by_id=account.id,
        expires_at=now + settings.team_invite_ttl,
    )
    try:
        await asyncio.to_thread(_send_invite, settings, account.email, email, token, row)
    except (OSError, smtplib.SMTPException) as exc:
        await session.rollback()  # no invite that nobody was told about
        raise ApiError(503, "unavailable", "the invitation email could not be sent") from exc
    await session.commit()
    return invite_view(row)


@router.post("/join", response_model=TeamView, responses=errors(*BODY, 403, 404, 409))
async def join(*, body: JoinRequest, account: CurrentAccount, session: SessionDep) -> TeamView:
    """Joins the team that invited the caller's address; joining it again changes nothing."""
    row = await repo.invite_for_update(session, hash_secret(body.token))
    now = datetime.now(UTC)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise not_found("invitation")
    if row.email != account.email:
        raise ApiError(403, "forbidden", "the invitation is for another address")
    if row.accepted_at is not None:
        if row.accepted_account_id == account.id and account.team_owner_id == row.team_owner_id:
            return await _team_view(session, account)
        raise not_found("invitation")
    if account.team_owner_id is not None:
        raise ApiError(409, "conflict", "the account is in another team already")
    if await repo.has_members(session, account.id) or row.team_owner_id == account.id:
        raise ApiError(409, "conflict", "a team owner cannot join another team")
    repo.accept_invite(row, account, now)
    await session.commit()
    return await _team_view(session, account)


def _send_invite(
    settings: ApiSettings, inviter: str, email: str, token: str, row: TeamInvite
) -> None:
    body = (
        f"{inviter} invites you to their Tenantry team; its owner pays for the team's pods.\n\n"
        f"To join, sign in with your account for {email} and send this token:\n\n"
        f"    {token}\n\n"
        f"  curl -X POST {settings.public_url}/v1/team/join \\\n"
        f"       -H 'Authorization: Bearer <your API key>' -d '{{\"token\": \"{token}\"}}'\n\n"
        f"It works once, until {row.expires_at:%Y-%m-%d %H:%M} UTC.\n"
    )
    smtp_mailer(settings).send(
        to=email,
        subject="You are invited to a Tenantry team",
        body=body,
        message_id=f"<team-invite-{row.id}@tenantry>",
    )


async def _team_view(session: AsyncSession, account: Account) -> TeamView:
    owner_id: uuid.UUID = account.billing_account_id
    members = await repo.members(session, owner_id)
    # Open invitations are the owner's business: members see who is in the team.
    invites = await repo.open_invites(session, owner_id) if account.id == owner_id else []
    return team_view(owner_id, members, invites)
