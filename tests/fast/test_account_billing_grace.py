"""AccountBillingWorkflow on skipped time: a card makes one subscription however often
its webhook comes; a failed invoice starts a 7-day grace, after which the account is
overdue and its pods hibernate; paying the failed invoice settles it.

The slow tier's counterpart (tests/billing/test_account_billing_stack.py) runs the real
activities against the Stripe emulator (a failed invoice with a grace of seconds).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from tenantry.contracts.billing import (
    AccountBillingInput,
    AccountBillingStage,
    BillingHibernated,
    BillingHibernation,
    CardAdded,
    InvoiceEvent,
    PastDueInput,
    Subscribed,
    SubscribeInput,
)
from tests.fast.mocks import Calls, mocked, worker
from tests.support.poll import eventually_async
from workflows.account_billing import AccountBillingWorkflow

pytestmark = pytest.mark.fast

GRACE = timedelta(days=7)


def billing_activities(calls: Calls) -> list[Any]:
    return [
        mocked(
            calls,
            "billing_subscribe",
            SubscribeInput,
            lambda _: Subscribed(subscription_id="sub_1", payment_method_id="pm_1"),
        ),
        mocked(calls, "billing_standing", PastDueInput),
        mocked(
            calls,
            "billing_hibernate_pods",
            BillingHibernation,
            lambda _: BillingHibernated(requested=["pod-1"]),
        ),
    ]


async def stage_is(handle: Any, stage: AccountBillingStage) -> Any:
    return await eventually_async(
        lambda: handle.query(AccountBillingWorkflow.state),
        until=lambda s: s.stage == stage,
        timeout=10,
        what=f"stage {stage}",
    )


async def test_unpaid_past_the_grace_hibernates_and_paying_settles(
    skipping_env: WorkflowEnvironment,
) -> None:
    calls = Calls()
    account_id = str(uuid.uuid4())
    inp = AccountBillingInput(account_id=account_id, grace_seconds=GRACE.total_seconds())
    async with worker(
        skipping_env.client, [AccountBillingWorkflow], billing_activities(calls)
    ) as run:
        handle = await run.start(
            AccountBillingWorkflow.run, inp, id=f"account-billing-{account_id}"
        )
        card = CardAdded(event_id="evt_1", checkout_session_id="cs_1")
        await handle.signal(AccountBillingWorkflow.card_added, card)
        await handle.signal(AccountBillingWorkflow.card_added, card)  # redelivered
        active = await stage_is(handle, AccountBillingStage.ACTIVE)
        assert active.subscription_id == "sub_1"

        failed = InvoiceEvent(event_id="evt_2", type="invoice.payment_failed", invoice_id="in_1")
        await handle.signal(AccountBillingWorkflow.invoice_event, failed)
        grace = await stage_is(handle, AccountBillingStage.GRACE)
        assert grace.failed_invoices == ["in_1"]
        await skipping_env.sleep(GRACE / 2)
        assert calls.of("billing_hibernate_pods") == []
        await skipping_env.sleep(GRACE)
        await stage_is(handle, AccountBillingStage.HIBERNATED)
        (asked,) = calls.of("billing_hibernate_pods")
        assert asked.account_id == account_id

        paid = InvoiceEvent(event_id="evt_3", type="invoice.paid", invoice_id="in_1")
        await handle.signal(AccountBillingWorkflow.invoice_event, paid)
        settled = await stage_is(handle, AccountBillingStage.ACTIVE)
        assert settled.failed_invoices == [] and settled.grace_until is None

    assert len(calls.of("billing_subscribe")) == 1
    standings = calls.of("billing_standing")
    assert [(s.past_due_since is not None, s.overdue_since is not None) for s in standings] == [
        (True, False),
        (True, True),
        (False, False),
    ]
    assert standings[1].overdue_since - standings[0].past_due_since >= GRACE
    assert standings[1].past_due_since == standings[0].past_due_since
