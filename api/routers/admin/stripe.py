"""Recovering Stripe events whose webhook delivery failed (admin).

Stripe keeps events for 30 days and marks those it could not deliver
(`delivery_success=false`). Listing them from the API and applying them through the same
path as the webhook recovers from an outage of our endpoint; events already applied are
recognised by id and change nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from api.deps import AdminDep, SessionDep, SettingsDep, TemporalDep
from api.responses import errors
from api.schemas.stripe import RecoveryReport
from api.stripe_events import handle_event

router = APIRouter(
    prefix="/v1/admin/stripe", tags=["admin"], dependencies=[AdminDep], responses=errors(401)
)


@router.post("/recover", response_model=RecoveryReport)
async def recover_missed_events(
    *, request: Request, session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> RecoveryReport:
    """Applies every event Stripe failed to deliver (each at most once)."""
    client = request.app.state.stripe

    def undelivered() -> list[dict[str, Any]]:
        events = client.v1.events.list(params={"delivery_success": False, "limit": 100})
        return [event.to_dict(recursive=True) for event in events.auto_paging_iter()]

    events = await asyncio.to_thread(undelivered)
    outcomes: dict[str, int] = {}
    for event in sorted(events, key=lambda e: e.get("created", 0)):
        outcome = await handle_event(event, session=session, temporal=temporal, settings=settings)
        key = outcome.split(":")[0]
        outcomes[key] = outcomes.get(key, 0) + 1
    return RecoveryReport(examined=len(events), outcomes=outcomes)
