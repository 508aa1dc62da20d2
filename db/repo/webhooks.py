"""Stripe webhook deduplication: an event's id is claimed once, in the handler's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ProcessedWebhookEvent


async def claim_webhook_event(
    session: AsyncSession, event_id: str, event_type: str, payload: dict[str, Any] | None = None
) -> bool:
    """True if this call recorded the event first; False for a duplicate delivery.

    Run it in the same transaction as the event's effect: if that rolls back, so does the
    claim, and Stripe's redelivery is handled afresh.
    """
    statement = (
        insert(ProcessedWebhookEvent)
        .values(event_id=event_id, type=event_type, payload=payload)
        .on_conflict_do_nothing(index_elements=[ProcessedWebhookEvent.event_id])
        .returning(ProcessedWebhookEvent.event_id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None
