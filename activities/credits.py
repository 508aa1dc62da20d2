"""Prepaid credits: the balance, the depletion mail, and hibernating an account's pods.

`CreditsActivities` holds a Temporal client (injected by the worker) because two of its
steps talk to other workflows: a metering run starts or signals `credits-{account_id}`
(signal-with-start, so a depletion found twice is one workflow), and the grace period's
end asks each running pod's `PodWorkflow` to hibernate through its `hibernate` update
with source `credits`, exactly as the API's hibernate does.

The owner's email is read from the database here and never crosses into workflow
history, search attributes or logs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError

from activities.account_pods import hibernate_account_pods
from db.models import Account, AuditLogEntry
from db.repo.credits import depletion_episode, latest_balances
from tenantry.contracts.common import SA_ACCOUNT_ID, SA_STAGE, credits_workflow_id
from tenantry.contracts.credits import (
    CREDITS_SOURCE,
    CreditsAccountRef,
    CreditsBalance,
    CreditsDepletedBatch,
    CreditsHibernated,
    CreditsHibernation,
    CreditsInput,
    CreditsNotice,
    CreditsStage,
)
from tenantry.contracts.signup import EmailMessage

Mailer = Callable[[EmailMessage], bool]


async def credits_balance(session: AsyncSession, account_id: uuid.UUID) -> CreditsBalance:
    """The latest balance and, when it is at or below zero, the depletion's episode."""
    found = (await session.execute(latest_balances([account_id]))).first()
    if found is None:
        return CreditsBalance(account_id=str(account_id), prepaid=False, balance=Decimal(0))
    balance = found[1]
    episode = await session.scalar(depletion_episode(account_id)) if balance <= 0 else None
    return CreditsBalance(
        account_id=str(account_id), prepaid=True, balance=balance, episode=episode
    )


class CreditsActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: Client,
        *,
        task_queue: str,
        grace_seconds: float,
        mailer: Mailer,
    ) -> None:
        """`mailer` sends a message at most once per dedupe key (`MailActivities.send_email`)."""
        self._sessions = sessions
        self._client = client
        self._task_queue = task_queue
        self._grace_seconds = grace_seconds
        self._mailer = mailer

    @activity.defn
    async def credits_start_grace(self, batch: CreditsDepletedBatch) -> int:
        """Signal-with-start `credits-{account_id}` for each depleted account."""
        # Imported here: workflows.credits imports this module for its activities.
        from workflows.credits import CreditsWorkflow

        for depleted in batch.accounts:
            await self._client.start_workflow(
                CreditsWorkflow.run,
                CreditsInput(account_id=depleted.account_id, grace_seconds=self._grace_seconds),
                id=credits_workflow_id(depleted.account_id),
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                # The SDK takes a signal-with-start's signal by name only; the name comes
                # from the handler, so a rename is still an error here.
                start_signal=CreditsWorkflow.depleted.__name__,
                start_signal_args=[depleted],
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(SA_ACCOUNT_ID, depleted.account_id),
                        SearchAttributePair(SA_STAGE, CreditsStage.DEPLETED.value),
                    ]
                ),
            )
            activity.heartbeat(depleted.account_id)
        return len(batch.accounts)

    @activity.defn
    async def credits_balance(self, ref: CreditsAccountRef) -> CreditsBalance:
        async with self._sessions() as session:
            return await credits_balance(session, uuid.UUID(ref.account_id))

    @activity.defn
    async def credits_notify_depleted(self, notice: CreditsNotice) -> bool:
        """Records the depletion and mails the owner, both at most once per episode."""
        account_id = uuid.UUID(notice.account_id)
        target = f"account:{notice.account_id}"
        async with self._sessions() as session:
            account = await session.get(Account, account_id)
            if account is None:
                raise ApplicationError(
                    f"account {notice.account_id} not found", type="NotFound", non_retryable=True
                )
            email = account.email
            recorded = await session.scalar(
                select(AuditLogEntry.id).where(
                    AuditLogEntry.target == target,
                    AuditLogEntry.action == "credits.depleted",
                    AuditLogEntry.details["episode"].as_integer() == notice.episode,
                )
            )
            if recorded is None:
                session.add(
                    AuditLogEntry(
                        actor="system:" + credits_workflow_id(notice.account_id),
                        action="credits.depleted",
                        target=target,
                        details={
                            "episode": notice.episode,
                            "balance_usd": str(notice.balance),
                            "grace_until": notice.grace_until.isoformat(),
                        },
                    )
                )
                await session.commit()
        message = EmailMessage(
            to=email,
            subject="Your prepaid credits are used up",
            body=(
                f"Your Tenantry credit balance is {notice.balance:.2f} USD.\n\n"
                f"Running pods of your account and your team will be hibernated at "
                f"{notice.grace_until:%Y-%m-%d %H:%M} UTC unless credits are added before "
                "then. Hibernated pods keep their workspace; restore them once the "
                "balance is above zero again.\n"
            ),
            dedupe_key=f"credits-depleted-{notice.account_id}-{notice.episode}",
        )
        return await asyncio.to_thread(self._mailer, message)

    @activity.defn
    async def credits_hibernate_pods(self, inp: CreditsHibernation) -> CreditsHibernated:
        """Asks every running pod of the account and its team members to hibernate."""
        requested, skipped = await hibernate_account_pods(
            self._sessions, self._client, uuid.UUID(inp.account_id), CREDITS_SOURCE
        )
        return CreditsHibernated(requested=requested, skipped=skipped)
