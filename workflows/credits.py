"""CreditsWorkflow: a prepaid account whose credits ran out (`credits-{account_id}`).

A metering run that leaves a prepaid account at or below zero signal-with-starts it
(`depleted`), so one account has one such workflow however many hours find it empty:

1. For a new depletion (a new `episode`, see `tenantry.contracts.credits`) the owner is
   mailed once and the depletion recorded in the audit log; a grace period starts.
2. A top-up (`topped_up`, sent by the API) ends it when the balance is above zero again.
   Without the signal the balance is checked again when the grace period ends anyway.
3. When the grace period ends with the balance still at or below zero, every running pod
   of the account and of its team members is hibernated through its `PodWorkflow`'s
   `hibernate` update with source `credits`. The workflow then waits for a top-up; a pod
   started again meanwhile is hibernated again after the next metering run finds the
   account still empty. A top-up ends the workflow and does not restore pods.

`Stage` (search attribute): depleted, grace, hibernating, hibernated, settled; `AccountId`
names the account. No email reaches the history: the mail activity looks it up.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.credits import CreditsActivities
    from activities.tenant_records import RecordActivities
    from tenantry.contracts.common import SA_ACCOUNT_ID, SA_STAGE
    from tenantry.contracts.credits import (
        CreditsAccountRef,
        CreditsBalance,
        CreditsDepleted,
        CreditsHibernated,
        CreditsHibernation,
        CreditsInput,
        CreditsNotice,
        CreditsStage,
        CreditsState,
        CreditsTopUp,
    )
    from tenantry.contracts.signup import AuditEvent

from workflows.policies import PAGE_TIMEOUT, QUICK, SLOW_HEARTBEAT, UNTIL_DONE, step


@workflow.defn
class CreditsWorkflow:
    @workflow.init
    def __init__(self, inp: CreditsInput) -> None:
        self._s = inp.model_copy(deep=True)
        self._inbox: list[CreditsDepleted] = list(inp.pending)
        self._s.pending = []
        self._topped_up = inp.topped_up

    # -- messages ---------------------------------------------------------------------
    @workflow.signal
    def depleted(self, found: CreditsDepleted) -> None:
        """A metering run found the account at or below zero (every hour it stays so)."""
        self._inbox.append(found)

    @workflow.signal
    def topped_up(self, top_up: CreditsTopUp) -> None:
        self._topped_up = True

    @workflow.query
    def state(self) -> CreditsState:
        s = self._s
        return CreditsState(
            account_id=s.account_id,
            stage=s.stage,
            episode=s.episode,
            grace_until=s.grace_until,
            hibernated_pods=list(s.hibernated_pods),
        )

    # -- the run ----------------------------------------------------------------------
    @workflow.run
    async def run(self, inp: CreditsInput) -> CreditsState:
        workflow.upsert_search_attributes(
            [SA_ACCOUNT_ID.value_set(self._s.account_id), SA_STAGE.value_set(self._s.stage)]
        )
        while not self._settled():
            with contextlib.suppress(TimeoutError):  # the grace period is over
                await workflow.wait_condition(
                    lambda: bool(self._inbox) or self._topped_up or self._should_continue(),
                    timeout=self._until_grace_end(),
                )
            if self._topped_up:
                self._topped_up = False
                balance = await self._balance()
                if self._positive(balance):
                    await self._settle(balance)
                    break
            if self._inbox:
                # One look at the balance answers any number of queued findings.
                self._inbox.clear()
                await self._on_depleted()
            if self._grace_over():
                await self._grace_ended()
            if not self._settled() and self._should_continue():
                await workflow.wait_condition(workflow.all_handlers_finished)
                next_run = self._s.model_copy(deep=True)
                next_run.pending = list(self._inbox)
                next_run.topped_up = self._topped_up
                workflow.continue_as_new(next_run)
        return self.state()

    def _settled(self) -> bool:
        return self._s.stage == CreditsStage.SETTLED

    def _should_continue(self) -> bool:
        return workflow.info().is_continue_as_new_suggested()

    def _until_grace_end(self) -> timedelta | None:
        if self._s.stage != CreditsStage.GRACE or self._s.grace_until is None:
            return None
        return max(self._s.grace_until - workflow.now(), timedelta(milliseconds=1))

    def _grace_over(self) -> bool:
        until = self._s.grace_until
        return self._s.stage == CreditsStage.GRACE and until is not None and workflow.now() >= until

    @staticmethod
    def _positive(balance: CreditsBalance) -> bool:
        return not balance.prepaid or balance.balance > 0 or balance.episode is None

    # -- steps ------------------------------------------------------------------------
    async def _on_depleted(self) -> None:
        balance = await self._balance()
        if self._positive(balance):
            await self._settle(balance)
            return
        if balance.episode != self._s.episode:
            # A new depletion: mail once, then a grace period before pods hibernate.
            assert balance.episode is not None
            self._s.episode = balance.episode
            self._s.grace_until = workflow.now() + timedelta(seconds=self._s.grace_seconds)
            self._set_stage(CreditsStage.GRACE)
            workflow.logger.info(
                "credits depleted for account %s (episode %s)", self._s.account_id, balance.episode
            )
            await step(
                CreditsActivities.credits_notify_depleted,
                CreditsNotice(
                    account_id=self._s.account_id,
                    episode=balance.episode,
                    balance=balance.balance,
                    grace_until=self._s.grace_until,
                ),
                limit=QUICK,
                retry=UNTIL_DONE,
            )
        elif self._s.stage == CreditsStage.HIBERNATED:
            # Still empty an hour later: pods started again meanwhile go back to sleep.
            await self._hibernate_pods()

    async def _grace_ended(self) -> None:
        balance = await self._balance()
        if self._positive(balance):
            await self._settle(balance)
            return
        self._s.grace_until = None
        self._set_stage(CreditsStage.HIBERNATING)
        await self._hibernate_pods()
        self._set_stage(CreditsStage.HIBERNATED)

    async def _hibernate_pods(self) -> None:
        done: CreditsHibernated = await step(
            CreditsActivities.credits_hibernate_pods,
            CreditsHibernation(account_id=self._s.account_id, episode=self._s.episode),
            limit=PAGE_TIMEOUT,
            heartbeat=SLOW_HEARTBEAT,
            retry=UNTIL_DONE,
        )
        self._s.hibernated_pods.extend(
            p for p in done.requested if p not in self._s.hibernated_pods
        )
        if done.requested or done.skipped:
            await self._audit(
                "credits.hibernate",
                requested=len(done.requested),
                skipped=len(done.skipped),
                episode=self._s.episode,
            )

    async def _settle(self, balance: CreditsBalance) -> None:
        self._s.grace_until = None
        self._set_stage(CreditsStage.SETTLED)
        await self._audit(
            "credits.settled", balance_usd=str(balance.balance), episode=self._s.episode
        )

    # -- building blocks --------------------------------------------------------------
    def _set_stage(self, stage: CreditsStage) -> None:
        self._s.stage = stage
        workflow.upsert_search_attributes([SA_STAGE.value_set(stage.value)])

    async def _balance(self) -> CreditsBalance:
        balance: CreditsBalance = await step(
            CreditsActivities.credits_balance,
            CreditsAccountRef(account_id=self._s.account_id),
            limit=QUICK,
            retry=UNTIL_DONE,
        )
        return balance

    async def _audit(self, action: str, **details: str | int | float | bool | None) -> None:
        await step(
            RecordActivities.audit,
            AuditEvent(
                actor=f"system:credits-{self._s.account_id}",
                action=action,
                target=f"account:{self._s.account_id}",
                details=details,
            ),
            limit=QUICK,
            retry=UNTIL_DONE,
        )
