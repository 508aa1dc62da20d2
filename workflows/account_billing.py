"""AccountBillingWorkflow: how an account pays for pod usage (`account-billing-{id}`).

Started (signal-with-start) by the first verified webhook that concerns the account:

1. `card_added` (a setup-mode Checkout completed): the card becomes the customer's default
   and the account gets its metered subscription, once (see activities.account_billing).
   A later card (from Checkout again) only becomes the new default.
2. `invoice_event` `invoice.payment_failed`: the account is past due and a grace period
   (`TENANTRY_ACCOUNT_PAYMENT_GRACE`) starts; when it ends unpaid, every running pod of
   the account and its team hibernates (source `billing`) and no pod starts (402) until
   an invoice is paid. `invoice.paid` of every failed invoice settles it (pods are not
   restored: their owner restores them).

Each event is applied once (by Stripe event id). `Stage` (search attribute): waiting,
active, grace, hibernated; `AccountId` names the account. No email or card detail is in
the history: activities read what they need.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.account_billing import AccountBillingActivities
    from tenantry.contracts.billing import (
        AccountBillingInput,
        AccountBillingStage,
        AccountBillingState,
        BillingHibernated,
        BillingHibernation,
        CardAdded,
        InvoiceEvent,
        PastDueInput,
        Subscribed,
        SubscribeInput,
    )
    from tenantry.contracts.common import SA_ACCOUNT_ID, SA_STAGE

from workflows.policies import PAGE_TIMEOUT, QUICK, SLOW_HEARTBEAT, UNTIL_DONE, step

SEEN_EVENTS_KEPT = 200  # Stripe redelivers for days; a few hundred ids cover it


@workflow.defn
class AccountBillingWorkflow:
    @workflow.init
    def __init__(self, inp: AccountBillingInput) -> None:
        self._s = inp.model_copy(deep=True)
        self._cards: list[CardAdded] = list(inp.pending_cards)
        self._invoices: list[InvoiceEvent] = list(inp.pending_invoices)
        self._s.pending_cards, self._s.pending_invoices = [], []

    # -- messages ---------------------------------------------------------------------
    @workflow.signal
    def card_added(self, card: CardAdded) -> None:
        if not self._seen(card.event_id):
            self._cards.append(card)

    @workflow.signal
    def invoice_event(self, event: InvoiceEvent) -> None:
        if not self._seen(event.event_id):
            self._invoices.append(event)

    @workflow.query
    def state(self) -> AccountBillingState:
        s = self._s
        return AccountBillingState(
            account_id=s.account_id,
            stage=s.stage,
            subscription_id=s.subscription_id,
            grace_until=s.grace_until,
            failed_invoices=list(s.failed_invoices),
        )

    def _seen(self, event_id: str) -> bool:
        if event_id in self._s.seen_events:
            return True
        self._s.seen_events = [*self._s.seen_events, event_id][-SEEN_EVENTS_KEPT:]
        return False

    # -- the run ----------------------------------------------------------------------
    @workflow.run
    async def run(self, inp: AccountBillingInput) -> AccountBillingState:
        workflow.upsert_search_attributes(
            [SA_ACCOUNT_ID.value_set(self._s.account_id), SA_STAGE.value_set(self._s.stage)]
        )
        while True:
            with contextlib.suppress(TimeoutError):  # the grace period is over
                await workflow.wait_condition(
                    lambda: bool(self._cards or self._invoices) or self._should_continue(),
                    timeout=self._until_grace_end(),
                )
            while self._cards:
                await self._subscribe(self._cards.pop(0))
            while self._invoices:
                await self._on_invoice(self._invoices.pop(0))
            if self._grace_over():
                await self._grace_ended()
            if self._should_continue():
                await workflow.wait_condition(workflow.all_handlers_finished)
                next_run = self._s.model_copy(deep=True)
                next_run.pending_cards = list(self._cards)
                next_run.pending_invoices = list(self._invoices)
                workflow.continue_as_new(next_run)

    def _should_continue(self) -> bool:
        return workflow.info().is_continue_as_new_suggested()

    def _until_grace_end(self) -> timedelta | None:
        if self._s.stage != AccountBillingStage.GRACE or self._s.grace_until is None:
            return None
        return max(self._s.grace_until - workflow.now(), timedelta(milliseconds=1))

    def _grace_over(self) -> bool:
        until = self._s.grace_until
        return (
            self._s.stage == AccountBillingStage.GRACE
            and until is not None
            and workflow.now() >= until
        )

    # -- steps ------------------------------------------------------------------------
    async def _subscribe(self, card: CardAdded) -> None:
        try:
            done: Subscribed = await step(
                AccountBillingActivities.billing_subscribe,
                SubscribeInput(
                    account_id=self._s.account_id, checkout_session_id=card.checkout_session_id
                ),
                limit=QUICK,
                retry=UNTIL_DONE,
            )
        except ActivityError as exc:
            # Not this account's completed card setup: nothing to do, and the workflow
            # keeps serving the account.
            workflow.logger.warning(
                "card setup %s not applied: %s", card.checkout_session_id, exc.cause
            )
            return
        self._s.subscription_id = done.subscription_id
        if self._s.stage == AccountBillingStage.WAITING:
            self._set_stage(AccountBillingStage.ACTIVE)

    async def _on_invoice(self, event: InvoiceEvent) -> None:
        invoice = event.invoice_id or ""
        if event.type == "invoice.payment_failed":
            if invoice not in self._s.failed_invoices:
                self._s.failed_invoices.append(invoice)
            if self._s.stage in (AccountBillingStage.ACTIVE, AccountBillingStage.WAITING):
                now = workflow.now()
                self._s.grace_until = now + timedelta(seconds=self._s.grace_seconds)
                self._set_stage(AccountBillingStage.GRACE)
                await self._standing(
                    PastDueInput(account_id=self._s.account_id, past_due_since=now)
                )
        elif event.type == "invoice.paid":
            if invoice in self._s.failed_invoices:
                self._s.failed_invoices.remove(invoice)
            if not self._s.failed_invoices and self._s.stage in (
                AccountBillingStage.GRACE,
                AccountBillingStage.HIBERNATED,
            ):
                self._s.grace_until = None
                self._set_stage(AccountBillingStage.ACTIVE)
                await self._standing(PastDueInput(account_id=self._s.account_id))

    async def _grace_ended(self) -> None:
        assert self._s.grace_until is not None
        since = self._s.grace_until - timedelta(seconds=self._s.grace_seconds)
        self._s.grace_until = None
        self._set_stage(AccountBillingStage.HIBERNATED)
        await self._standing(
            PastDueInput(
                account_id=self._s.account_id, past_due_since=since, overdue_since=workflow.now()
            )
        )
        done: BillingHibernated = await step(
            AccountBillingActivities.billing_hibernate_pods,
            BillingHibernation(account_id=self._s.account_id),
            limit=PAGE_TIMEOUT,
            heartbeat=SLOW_HEARTBEAT,
            retry=UNTIL_DONE,
        )
        workflow.logger.info(
            "account %s overdue: %d pods hibernating, %d skipped",
            self._s.account_id,
            len(done.requested),
            len(done.skipped),
        )

    # -- building blocks --------------------------------------------------------------
    def _set_stage(self, stage: AccountBillingStage) -> None:
        self._s.stage = stage
        workflow.upsert_search_attributes([SA_STAGE.value_set(stage.value)])

    async def _standing(self, inp: PastDueInput) -> None:
        await step(AccountBillingActivities.billing_standing, inp, limit=QUICK, retry=UNTIL_DONE)
