"""The caller's team: its members, open invitations, and the invite and join bodies."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, EmailStr, Field

from db.models import Account, TeamInvite


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
    model_config = {"json_schema_extra": {"examples": [{"email": "colleague@example.com"}]}}

    email: EmailStr


class JoinRequest(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"token": "inv_3q2-Kx9wP0aVbLmN7cR5tY"}]}}

    token: str = Field(min_length=1, max_length=200)


def invite_view(invite: TeamInvite) -> InviteView:
    return InviteView(invite_id=str(invite.id), email=invite.email, expires_at=invite.expires_at)


def team_view(
    owner_id: uuid.UUID, members: Iterable[Account], invites: Iterable[TeamInvite]
) -> TeamView:
    return TeamView(
        owner_id=str(owner_id),
        members=[
            Member(
                account_id=str(m.id), email=m.email, role="owner" if m.id == owner_id else "member"
            )
            for m in members
        ],
        invites=[invite_view(i) for i in invites],
    )
