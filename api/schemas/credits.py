"""Prepaid credits (admin): a top-up, its answer, and the ledger as shown."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field

from db.models import CreditEntry

Reference = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$",
        description="your unique id for this top-up (an invoice, a payment); a retry with "
        "the same reference adds nothing",
    ),
]


class CreditsAdd(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"amount_usd": "25.00", "reference": "invoice-2026-12-0042", "reason": "top-up"}
            ]
        }
    }

    amount_usd: Decimal = Field(gt=0, le=1_000_000, decimal_places=6, examples=["25.00"])
    reference: Reference
    reason: str | None = Field(default=None, max_length=500)


class CreditsAdded(BaseModel):
    account_id: str
    entry_id: int
    amount_usd: Decimal
    balance_usd: Decimal
    reference: str
    applied: bool = Field(description="false: this reference was applied before")


class LedgerEntry(BaseModel):
    entry_id: int
    delta_usd: Decimal
    balance_usd: Decimal
    reason: str
    reference: str
    at: datetime


class CreditsView(BaseModel):
    account_id: str
    prepaid: bool
    balance_usd: Decimal | None
    entries: list[LedgerEntry] = Field(
        description="a page of the ledger, newest first (`limit`, `starting_after`)"
    )
    has_more: bool = Field(description="whether older entries follow: ask with starting_after")


def ledger_entry(e: CreditEntry) -> LedgerEntry:
    return LedgerEntry(
        entry_id=e.id,
        delta_usd=e.delta,
        balance_usd=e.balance_after,
        reason=e.reason,
        reference=e.reference,
        at=e.created_at,
    )
