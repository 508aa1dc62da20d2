"""CreditsWorkflow's grace on skipped time: an account found empty is mailed once, and a
day later, still empty, has its running pods hibernated; a top-up within the day ends
it with nothing hibernated.

The slow tier's counterpart (tests/metering/test_prepaid.py) meters real pods on real
hosts with a grace of seconds; here the balance is a mock the test sets.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from tenantry.contracts.credits import (
    CreditsAccountRef,
    CreditsBalance,
    CreditsDepleted,
    CreditsHibernated,
    CreditsHibernation,
    CreditsInput,
    CreditsNotice,
    CreditsStage,
    CreditsTopUp,
)
from tenantry.contracts.signup import AuditEvent
from tests.fast.mocks import Calls, mocked, worker
from tests.support.poll import eventually_async
from workflows.credits import CreditsWorkflow

pytestmark = pytest.mark.fast

DAY = timedelta(days=1)
EPISODE = 41


@dataclass
class Ledger:
    """The account's balance as the mocked `credits_balance` reports it."""

    balance: Decimal
    episode: int | None

    def report(self, ref: CreditsAccountRef) -> CreditsBalance:
        return CreditsBalance(
            account_id=ref.account_id, prepaid=True, balance=self.balance, episode=self.episode
        )


def credits_activities(calls: Calls, ledger: Ledger) -> list[Any]:
    hibernated = CreditsHibernated(requested=["pod-1", "pod-2"], skipped=["pod-3"])
    return [
        mocked(calls, "credits_balance", CreditsAccountRef, ledger.report),
        mocked(calls, "credits_notify_depleted", CreditsNotice, lambda _: True),
        mocked(calls, "credits_hibernate_pods", CreditsHibernation, lambda _: hibernated),
        mocked(calls, "audit", AuditEvent),
    ]


def depleted(account_id: str) -> CreditsDepleted:
    return CreditsDepleted(account_id=account_id, episode=EPISODE, balance=Decimal("-0.011"))


def audits(calls: Calls) -> list[tuple[str, dict[str, Any]]]:
    return [(a.action, a.details) for a in calls.of("audit")]


async def test_still_empty_after_the_grace_hibernates_the_pods(
    skipping_env: WorkflowEnvironment,
) -> None:
    calls, ledger = Calls(), Ledger(Decimal("-0.011"), EPISODE)
    account_id = str(uuid.uuid4())
    inp = CreditsInput(account_id=account_id, grace_seconds=DAY.total_seconds())
    async with worker(
        skipping_env.client, [CreditsWorkflow], credits_activities(calls, ledger)
    ) as run:
        handle = await run.start(CreditsWorkflow.run, inp, id=f"credits-{account_id}")
        await handle.signal(CreditsWorkflow.depleted, depleted(account_id))
        await eventually_async(
            lambda: calls.of("credits_notify_depleted"), timeout=10, what="the owner's mail"
        )
        grace = await handle.query(CreditsWorkflow.state)
        assert grace.stage == CreditsStage.GRACE and grace.episode == EPISODE

        # The next hour's metering finds the same depletion: no second mail.
        await skipping_env.sleep(timedelta(hours=1))
        await handle.signal(CreditsWorkflow.depleted, depleted(account_id))
        await skipping_env.sleep(DAY)
        state = await eventually_async(
            lambda: handle.query(CreditsWorkflow.state),
            until=lambda s: s.stage == CreditsStage.HIBERNATED,
            timeout=10,
            what="the pods hibernated",
        )
        assert state.hibernated_pods == ["pod-1", "pod-2"]

        # A top-up afterwards ends the depletion; it restores nothing.
        ledger.balance, ledger.episode = Decimal("4.989"), None
        await handle.signal(
            CreditsWorkflow.topped_up, CreditsTopUp(reference="inv-7", balance=ledger.balance)
        )
        final = await asyncio.wait_for(handle.result(), timeout=30)

    (notice,) = calls.of("credits_notify_depleted")
    assert (notice.account_id, notice.episode, notice.balance) == (
        account_id,
        EPISODE,
        Decimal("-0.011"),
    )
    assert grace.grace_until == notice.grace_until
    (asked,) = calls.of("credits_hibernate_pods")
    assert (asked.account_id, asked.episode) == (account_id, EPISODE)
    # The grace is a day from the finding; the pods were hibernated when it ended, not at
    # the second finding.
    (mailed_at,) = calls.times("credits_notify_depleted")
    (hibernated_at,) = calls.times("credits_hibernate_pods")
    assert abs(notice.grace_until - mailed_at - DAY) < timedelta(minutes=1)
    assert notice.grace_until <= hibernated_at < notice.grace_until + timedelta(minutes=1)
    assert final.stage == CreditsStage.SETTLED and final.hibernated_pods == ["pod-1", "pod-2"]
    assert audits(calls) == [
        ("credits.hibernate", {"requested": 2, "skipped": 1, "episode": EPISODE}),
        ("credits.settled", {"balance_usd": "4.989", "episode": EPISODE}),
    ]


async def test_a_top_up_within_the_grace_settles_without_hibernating(
    skipping_env: WorkflowEnvironment,
) -> None:
    calls, ledger = Calls(), Ledger(Decimal("-0.008"), EPISODE)
    account_id = str(uuid.uuid4())
    inp = CreditsInput(account_id=account_id, grace_seconds=DAY.total_seconds())
    async with worker(
        skipping_env.client, [CreditsWorkflow], credits_activities(calls, ledger)
    ) as run:
        handle = await run.start(CreditsWorkflow.run, inp, id=f"credits-{account_id}")
        await handle.signal(CreditsWorkflow.depleted, depleted(account_id))
        await eventually_async(
            lambda: calls.of("credits_notify_depleted"), timeout=10, what="the owner's mail"
        )
        await skipping_env.sleep(timedelta(hours=12))
        ledger.balance, ledger.episode = Decimal("0.997"), None
        await handle.signal(
            CreditsWorkflow.topped_up, CreditsTopUp(reference="card-1", balance=ledger.balance)
        )
        final = await asyncio.wait_for(handle.result(), timeout=30)
        described = await handle.describe()

    assert final.stage == CreditsStage.SETTLED and final.hibernated_pods == []
    assert final.grace_until is None
    assert calls.of("credits_hibernate_pods") == []
    assert len(calls.of("credits_notify_depleted")) == 1
    assert audits(calls) == [("credits.settled", {"balance_usd": "0.997", "episode": EPISODE})]
    # It ended at the top-up, half-way through the grace, not at its end.
    assert described.start_time is not None and described.close_time is not None
    assert described.close_time - described.start_time < DAY
