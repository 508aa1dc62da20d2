"""Typed messages of prepaid credits (issue 7), shared by api/, workflows/ and activities/.

A prepaid account is one with any entry in the credits ledger; metering pays its usage
from the ledger. When a metering run leaves its balance at or below zero, the account's
`CreditsWorkflow` (`credits-{account_id}`) mails the owner once per depletion, waits a
grace period, and then hibernates every running pod of the account and of its team.

A *depletion* is identified by its `episode`: the id of the ledger entry that took the
balance from above zero to zero or below (the first entry after the last positive one).
Metering the same hour again adds no entry, so it finds the same episode: no second mail.
A top-up that brings the balance above zero ends the depletion; the next one is new.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

CREDITS_SOURCE = "credits"
"""The `PodRequest.source` of a hibernation asked for by an empty balance."""


class CreditsStage(enum.StrEnum):
    """Where a depletion is; the `Stage` search attribute of `credits-{account_id}`."""

    DEPLETED = "depleted"  # started, not yet looked at
    GRACE = "grace"  # owner mailed, pods still running until `grace_until`
    HIBERNATING = "hibernating"
    HIBERNATED = "hibernated"  # pods hibernated; waits for a top-up
    SETTLED = "settled"  # the balance is above zero again (pods are not restored)


class CreditsDepleted(BaseModel):
    """Found by a metering run: a prepaid account at or below zero (signal `depleted`)."""

    account_id: str
    episode: int
    balance: Decimal
    hour: datetime | None = None


class CreditsDepletedBatch(BaseModel):
    accounts: list[CreditsDepleted] = Field(default_factory=list)


class CreditsTopUp(BaseModel):
    """Sent by the API after a top-up is committed (signal `topped_up`)."""

    reference: str
    balance: Decimal


class CreditsAccountRef(BaseModel):
    account_id: str


class CreditsBalance(BaseModel):
    account_id: str
    prepaid: bool
    balance: Decimal
    episode: int | None = None  # the current depletion, when the balance is <= 0


class CreditsNotice(BaseModel):
    """Mail the owner about a depletion and record it, once per episode."""

    account_id: str
    episode: int
    balance: Decimal
    grace_until: datetime


class CreditsHibernation(BaseModel):
    account_id: str
    episode: int | None = None


class CreditsHibernated(BaseModel):
    requested: list[str] = Field(default_factory=list, description="pods asked to hibernate")
    skipped: list[str] = Field(default_factory=list, description="busy pods (creating, ...)")


class CreditsInput(BaseModel):
    """Starts `credits-{account_id}`; also the state carried across continue-as-new."""

    account_id: str
    grace_seconds: float = 24 * 3600
    stage: CreditsStage = CreditsStage.DEPLETED
    episode: int | None = None
    grace_until: datetime | None = None
    hibernated_pods: list[str] = Field(default_factory=list)
    pending: list[CreditsDepleted] = Field(default_factory=list)
    topped_up: bool = False


class CreditsState(BaseModel):
    """What the `state` query answers."""

    account_id: str
    stage: CreditsStage
    episode: int | None
    grace_until: datetime | None
    hibernated_pods: list[str]
