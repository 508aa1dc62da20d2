"""Stripe (admin): what a recovery of undelivered events did."""

from __future__ import annotations

from pydantic import BaseModel


class RecoveryReport(BaseModel):
    examined: int
    outcomes: dict[str, int]
