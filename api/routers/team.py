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
from pydantic import BaseModel, EmailStr, Field
from sqlalchemy import or_, select

from api.deps import CurrentAccount, SessionDep, SettingsDep
from api.errors import ApiError, not_found
from db.models import Account, TeamInvite
from tenantry.clients.smtp import SmtpMailer
from tenantry.crypto import hash_secret
from tenantry.settings import ApiSettings

router = APIRouter(prefix="/v1/team", tags=["team"])

INVITE_TOKEN_PREFIX = "tinv_"


class Member(BaseModel):
    account_id: str
    email: str
    role: str


class InviteView(BaseModel):
    invite_id: str
    email: str
    expires_at: datetime


class TeamView(BaseModel):
    owner_id: str
    members: list[Member]
    invites: list[InviteView] = Field(
        default_factory=list, description="open invitations (shown to the owner)"
    )


class InviteCreate(BaseModel):
    email: EmailStr


class JoinRequest(BaseModel):
    token: str = Field(min_length=1, max_length=200)


@router.get("", response_model=TeamView)
async def get_team(*, account: CurrentAccount, session: SessionDep) -> TeamView:
    return await _team_view(session, account)


@router.post("/invites", status_code=201, response_model=InviteView)
async def invite(
    *, body: InviteCreate, account: CurrentAccount, session: SessionDep, settings: SettingsDep
) -> InviteView:
    """Invites an address to the caller's team; inviting it again replaces the open invite."""
    if account.team_owner_id is not None:
        raise ApiError(403, "forbidden", "only the team owner invites")
    email = str(body.email).lower()
    member = await session.scalar(
        select(Account.id).where(
            Account.email == email,
            or_(Account.id == account.id, Account.team_owner_id == account.id),
        )
    )
    if member is not None:
        raise ApiError(409, "conflict", f"{email} is in the team already")
    now = datetime.now(UTC)
    for old in await session.scalars(
        select(TeamInvite).where(
            TeamInvite.team_owner_id == account.id,
            TeamInvite.email == email,
            TeamInvite.accepted_at.is_(None),
            TeamInvite.revoked_at.is_(None),
        )
    ):
        old.revoked_at = now
    await session.flush()
    token = INVITE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = TeamInvite(
        team_owner_id=account.id,
        email=email,
        token_hash=hash_secret(token),
        invited_by_id=account.id,
        expires_at=now + settings.team_invite_ttl,
    )
    session.add(row)
    await session.flush()
    try:
        await asyncio.to_thread(_send_invite, settings, account.email, email, token, row)
    except (OSError, smtplib.SMTPException) as exc:
        await session.rollback()  # no invite that nobody was told about
        raise ApiError(503, "unavailable", "the invitation email could not be sent") from exc
    await session.commit()
    return InviteView(invite_id=str(row.id), email=email, expires_at=row.expires_at)


@router.post("/join", response_model=TeamView)
async def join(*, body: JoinRequest, account: CurrentAccount, session: SessionDep) -> TeamView:
    """Joins the team that invited the caller's address; joining it again changes nothing."""
    row = await session.scalar(
        select(TeamInvite).where(TeamInvite.token_hash == hash_secret(body.token)).with_for_update()
    )
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
    has_members = await session.scalar(
        select(Account.id).where(Account.team_owner_id == account.id).limit(1)
    )
    if has_members is not None or row.team_owner_id == account.id:
        raise ApiError(409, "conflict", "a team owner cannot join another team")
    account.team_owner_id = row.team_owner_id
    row.accepted_at, row.accepted_account_id = now, account.id
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
    SmtpMailer(settings.smtp_url, sender=settings.mail_from).send(
        to=email,
        subject="You are invited to a Tenantry team",
        body=body,
        message_id=f"<team-invite-{row.id}@tenantry>",
    )


async def _team_view(session: SessionDep, account: Account) -> TeamView:
    owner_id: uuid.UUID = account.billing_account_id
    members = (
        await session.scalars(
            select(Account)
            .where(or_(Account.id == owner_id, Account.team_owner_id == owner_id))
            .order_by(Account.created_at)
        )
    ).all()
    invites: list[InviteView] = []
    if account.id == owner_id:
        open_invites = await session.scalars(
            select(TeamInvite)
            .where(
                TeamInvite.team_owner_id == owner_id,
                TeamInvite.accepted_at.is_(None),
                TeamInvite.revoked_at.is_(None),
                TeamInvite.expires_at > datetime.now(UTC),
            )
            .order_by(TeamInvite.created_at)
        )
        invites = [
            InviteView(invite_id=str(i.id), email=i.email, expires_at=i.expires_at)
            for i in open_invites
        ]
    return TeamView(
        owner_id=str(owner_id),
        members=[
            Member(
                account_id=str(m.id), email=m.email, role="owner" if m.id == owner_id else "member"
            )
            for m in members
        ],
        invites=invites,
    )
