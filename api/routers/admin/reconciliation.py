"""Reconciliation (admin): the local usage ledger against Stripe's meter event summaries.

It runs in a thread on a sync session of its own: the Stripe client is synchronous, and
a month's summaries take many calls.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from api.deps import AdminDep, SettingsDep
from api.errors import ApiError
from api.responses import errors
from db.repo.reconciliation import Reconciliation, reconcile
from db.session import make_engine
from tenantry.rules.metering import parse_month

router = APIRouter(
    prefix="/v1/admin/reconciliation",
    tags=["admin"],
    dependencies=[AdminDep],
    responses=errors(401),
)


@router.get("", response_model=Reconciliation, responses=errors(422))
async def reconciliation(
    *,
    request: Request,
    settings: SettingsDep,
    month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")],
) -> Reconciliation:
    """The local ledger against Stripe's meter event summaries; lists every difference."""
    try:
        start = parse_month(month)
    except ValueError as exc:
        raise ApiError(422, "invalid_input", str(exc), {"field": "month"}) from exc

    def run() -> Reconciliation:
        engine = make_engine(settings.database_url)
        try:
            with Session(engine) as session:
                return reconcile(session, request.app.state.stripe, start)
        finally:
            engine.dispose()

    return await asyncio.to_thread(run)
