"""A payment signalled before the Checkout session is known is held, then checked.

The signal can overtake the step that creates the session: a worker that dies after
Stripe created the session but before the workflow recorded it leaves the webhook's
signal in history ahead of the session, and the next worker replays the run from the
start with the signal already there (a backlog does the same). Here the signals are
sent before any worker has taken the run. The workflow holds such payments and applies
only the one for its own session once that exists; another session's payment never
becomes this signup's. Activities are recorded fakes by name: the test is about the
workflow's state.
"""

from __future__ import annotations

import asyncio
import uuid

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from tenantry.contracts.common import signup_workflow_id
from tenantry.contracts.signup import (
    CheckoutSessionInput,
    CheckoutSessionRef,
    CreateCustomerInput,
    CustomerRef,
    PaymentReceived,
    SignupInput,
    SignupProgress,
    SignupStatus,
)
from workflows.signup import SignupWorkflow


class FakeBilling:
    """Customer and session as Stripe would answer; records what the workflow saves."""

    def __init__(self) -> None:
        self.records: list[SignupProgress] = []

    @activity.defn(name="create_customer")
    async def create_customer(self, inp: CreateCustomerInput) -> CustomerRef:
        return CustomerRef(customer_id="cus_held")

    @activity.defn(name="create_checkout_session")
    async def create_checkout_session(self, inp: CheckoutSessionInput) -> CheckoutSessionRef:
        return CheckoutSessionRef(session_id="cs_this", url="https://checkout.test/cs_this")

    @activity.defn(name="record_signup_progress")
    async def record_signup_progress(self, progress: SignupProgress) -> None:
        self.records.append(progress)


def payment(session_id: str, subscription_id: str) -> PaymentReceived:
    return PaymentReceived(
        event_id=f"evt_{uuid.uuid4().hex[:12]}",
        checkout_session_id=session_id,
        customer_id="cus_held",
        subscription_id=subscription_id,
    )


async def test_payments_before_the_session_exists_are_held_and_checked(
    temporal_client: Client, task_queue: str
) -> None:
    fake = FakeBilling()
    subdomain = f"held-{uuid.uuid4().hex[:8]}"
    inp = SignupInput(
        signup_id=str(uuid.uuid4()),
        subdomain=subdomain,
        email="held@example.com",
        tier="starter",
        status_token_hash="x",
        base_domain="tenantry.test",
        admin_email="ops@tenantry.test",
        approval_mode="manual",  # stops the run after payment, before provisioning
        step_timeout_seconds=30,
    )
    handle = await temporal_client.start_workflow(
        SignupWorkflow.run, inp, id=signup_workflow_id(subdomain), task_queue=task_queue
    )
    # Both arrive before the session is known: another session's first.
    await handle.signal(SignupWorkflow.payment_completed, payment("cs_other", "sub_other"))
    await handle.signal(SignupWorkflow.payment_completed, payment("cs_this", "sub_this"))
    async with Worker(
        temporal_client,
        task_queue=task_queue,
        workflows=[SignupWorkflow],
        activities=[
            fake.create_customer,
            fake.create_checkout_session,
            fake.record_signup_progress,
        ],
    ):
        for _ in range(300):
            state = await handle.query(SignupWorkflow.state)
            if state.status == SignupStatus.AWAITING_APPROVAL:
                break
            await asyncio.sleep(0.05)
        assert state.status == SignupStatus.AWAITING_APPROVAL, state
        paid = [r.signup for r in fake.records if r.signup.status == SignupStatus.PAID]
        assert [r.stripe_subscription_id for r in paid] == ["sub_this"]
        assert paid[0].stripe_checkout_session_id == "cs_this"
        await handle.terminate("test over")
