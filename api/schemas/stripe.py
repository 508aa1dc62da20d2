"""Stripe (admin): what a recovery of undelivered events did."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RecoveryReport(BaseModel):
    examined: int
    outcomes: dict[str, int]


class WebhookReceived(BaseModel):
    """What Stripe gets back: the event was taken, and what became of it."""

    received: bool
    outcome: str = Field(description="what became of the event, e.g. `duplicate` or `ignored`")
