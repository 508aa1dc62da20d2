"""The caller's team: who is in it and who pays (API key required)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import or_, select

from api.deps import CurrentAccount, SessionDep
from db.models import Account

router = APIRouter(prefix="/v1/team", tags=["team"])


class Member(BaseModel):
    account_id: str
    email: str
    role: str


class TeamView(BaseModel):
    owner_id: str
    members: list[Member]


@router.get("", response_model=TeamView)
async def get_team(*, account: CurrentAccount, session: SessionDep) -> TeamView:
    owner_id = account.billing_account_id
    members = (
        await session.scalars(
            select(Account).where(or_(Account.id == owner_id, Account.team_owner_id == owner_id))
        )
    ).all()
    return TeamView(
        owner_id=str(owner_id),
        members=[
            Member(
                account_id=str(m.id), email=m.email, role="owner" if m.id == owner_id else "member"
            )
            for m in members
        ],
    )
