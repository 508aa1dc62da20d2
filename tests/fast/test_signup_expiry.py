"""SignupWorkflow's checkout expiry: a day without payment (skipped) expires the Checkout
session and ends the signup; a payment in time provisions instead.

The slow tier's counterpart (tests/signup) pays on the Stripe emulator's page and runs
the real steps; here every step is a mock, so only the workflow's own logic is tested.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from tenantry.contracts.signup import (
    CheckoutClosed,
    CheckoutSessionInput,
    CheckoutSessionRef,
    CreateCustomerInput,
    CustomerRef,
    DnsRecord,
    EmailMessage,
    EnsureSubscriptionInput,
    HealthGateInput,
    PaymentReceived,
    ProvisioningEvent,
    RefundInput,
    RefundResult,
    ServerInfo,
    ServerRef,
    ServerSpec,
    SignupInput,
    SignupProgress,
    SignupRecord,
    SignupStatus,
    Stage,
    SubscriptionRef,
    TenantKeys,
    TenantRecord,
)
from tests.fast.mocks import Calls, mocked, worker
from tests.fast.stand_ins import TenantStandIn
from workflows.signup import SignupWorkflow

pytestmark = pytest.mark.fast

DAY = 24 * 3600
SESSION = CheckoutSessionRef(session_id="cs_fast_1", url="https://checkout.example/cs_fast_1")


def signup_input(subdomain: str) -> SignupInput:
    return SignupInput(
        signup_id=str(uuid.uuid4()),
        subdomain=subdomain,
        email=f"owner@{subdomain}.example",
        tier="starter",
        status_token_hash="0" * 64,
        base_domain="tenants.example",
        admin_email="ops@example.com",
        checkout_expiry_seconds=DAY,
    )


def signup_activities(calls: Calls, closed: CheckoutClosed | None = None) -> list[Any]:
    """Stripe, the records, and every provisioning step, all succeeding; Checkout closes
    as `closed` (unpaid by default)."""
    closed = closed or CheckoutClosed(paid=False)
    return [
        mocked(
            calls,
            "create_customer",
            CreateCustomerInput,
            lambda _: CustomerRef(customer_id="cus_1"),
        ),
        mocked(calls, "create_checkout_session", CheckoutSessionInput, lambda _: SESSION),
        mocked(
            calls,
            "close_checkout_session",
            CheckoutSessionRef,
            lambda _: closed,
        ),
        mocked(calls, "record_signup_progress", SignupProgress),
        mocked(calls, "save_signup", SignupRecord),
        mocked(calls, "log_provisioning", ProvisioningEvent),
        mocked(calls, "update_tenant", TenantRecord),
        mocked(
            calls,
            "ensure_subscription_active",
            EnsureSubscriptionInput,
            lambda inp: SubscriptionRef(subscription_id=inp.subscription_id),
        ),
        mocked(
            calls,
            "ensure_tenant",
            TenantRecord,
            lambda rec: TenantKeys(tenant_id=rec.tenant_id, ssh_host_public_key="ssh-ed25519 AAAA"),
        ),
        mocked(
            calls,
            "create_server",
            ServerSpec,
            lambda spec: ServerInfo(
                server_id=7, name=spec.name, ipv4="203.0.113.7", status="running"
            ),
        ),
        mocked(calls, "delete_server_if_present", ServerRef),
        mocked(calls, "upsert_dns_record", DnsRecord, lambda _: "change-1"),
        mocked(calls, "delete_dns_record_if_present", DnsRecord),
        mocked(calls, "wait_healthy", HealthGateInput, lambda _: "healthy"),
        mocked(calls, "send_email", EmailMessage, lambda _: True),
        mocked(calls, "cancel_subscription_if_present", SubscriptionRef),
    ]


def recorded_statuses(calls: Calls) -> list[SignupStatus]:
    """The signup statuses written to the database, whichever record activity wrote them."""
    return [p.signup.status for p in calls.of("record_signup_progress")] + [
        r.status for r in calls.of("save_signup")
    ]


async def test_a_day_without_payment_expires_the_checkout(
    skipping_env: WorkflowEnvironment,
) -> None:
    calls = Calls()
    inp = signup_input("expiring")
    async with worker(skipping_env.client, [SignupWorkflow], signup_activities(calls)) as run:
        handle = await run.start(SignupWorkflow.run, inp, id=f"signup-{inp.subdomain}")
        # The test server skips the day.
        state = await asyncio.wait_for(handle.result(), timeout=30)

    assert state.status == SignupStatus.EXPIRED and state.stage == Stage.EXPIRED
    assert state.error == "checkout expired before payment"
    # The session was opened for exactly the expiry, and closed with the ref Stripe gave.
    (checkout,) = calls.of("create_checkout_session")
    described = await handle.describe()
    assert described.start_time is not None and described.close_time is not None
    opened_for = checkout.expires_at - described.start_time
    assert abs(opened_for - timedelta(seconds=DAY)) < timedelta(seconds=5)
    waited = described.close_time - described.start_time
    assert timedelta(seconds=DAY) <= waited < timedelta(seconds=DAY + 60)
    assert calls.of("close_checkout_session") == [SESSION]
    assert recorded_statuses(calls)[-1] == SignupStatus.EXPIRED
    # Nothing was provisioned, charged or mailed.
    assert set(calls.names()) <= {
        "create_customer",
        "create_checkout_session",
        "close_checkout_session",
        "record_signup_progress",
        "save_signup",
        "log_provisioning",
    }


async def test_a_payment_in_time_provisions_and_expires_nothing(
    temporal_env: WorkflowEnvironment,
) -> None:
    # On the dev server: the test server hangs the parent's workflow task when its child
    # starts while the task runs. So real seconds: paid 1 s into a 5 s expiry.
    calls = Calls()
    subdomain = f"paying-{uuid.uuid4().hex[:6]}"  # the dev server outlives one test
    inp = signup_input(subdomain).model_copy(update={"checkout_expiry_seconds": 5})
    activities = signup_activities(calls)
    async with worker(temporal_env.client, [SignupWorkflow, TenantStandIn], activities) as run:
        handle = await run.start(SignupWorkflow.run, inp, id=f"signup-{inp.subdomain}")
        await asyncio.sleep(1)
        await handle.signal(
            SignupWorkflow.payment_completed,
            PaymentReceived(
                event_id="evt_1", checkout_session_id=SESSION.session_id, subscription_id="sub_1"
            ),
        )
        state = await asyncio.wait_for(handle.result(), timeout=30)
        assert state.tenant_id is not None
        child = run.client.get_workflow_handle(f"tenant-{state.tenant_id}")
        run.started.append(child)
        tenant = await child.query(TenantStandIn.given)

    assert state.status == SignupStatus.ACTIVE and state.stage == Stage.ACTIVE, state.error
    assert calls.of("close_checkout_session") == []
    assert SignupStatus.EXPIRED not in recorded_statuses(calls)
    (server,) = calls.of("create_server")
    assert server.name == f"tenant-{subdomain}" and server.tenant_id == state.tenant_id
    assert [s.subscription_id for s in calls.of("ensure_subscription_active")] == ["sub_1"]
    (welcome,) = calls.of("send_email")
    assert welcome.to == inp.email and f"{subdomain}.tenants.example" in welcome.subject
    # The tenant's entity workflow starts with what provisioning made, and the grace.
    assert (tenant.tenant_id, tenant.server_name, tenant.server_ip, tenant.fqdn) == (
        state.tenant_id,
        f"tenant-{subdomain}",
        "203.0.113.7",
        f"{subdomain}.tenants.example",
    )
    assert tenant.subscription_id == "sub_1"
    assert tenant.grace_seconds == inp.payment_grace_seconds


async def test_a_late_payment_in_refund_mode_refunds_then_cancels(
    skipping_env: WorkflowEnvironment,
) -> None:
    calls = Calls()
    inp = signup_input("refunding").model_copy(update={"late_payment": "refund"})
    paid = CheckoutClosed(paid=True, customer_id="cus_1", subscription_id="sub_1")
    activities = [
        *signup_activities(calls, closed=paid),
        mocked(
            calls,
            "refund_latest_payment_if_any",
            RefundInput,
            lambda r: RefundResult(
                refund_id="re_1", amount=2900, currency="eur", payment_intent_id="pi_1"
            ),
        ),
    ]
    async with worker(skipping_env.client, [SignupWorkflow], activities) as run:
        handle = await run.start(SignupWorkflow.run, inp, id=f"signup-{inp.subdomain}")
        state = await asyncio.wait_for(handle.result(), timeout=30)

    assert state.status == SignupStatus.EXPIRED, state.error
    assert state.error is not None and "refunded" in state.error
    (refund,) = calls.of("refund_latest_payment_if_any")
    assert refund == RefundInput(
        subscription_id="sub_1", idempotency_key=f"signup-{inp.subdomain}:refund"
    )
    money = [
        n
        for n in calls.names()
        if n in ("refund_latest_payment_if_any", "cancel_subscription_if_present")
    ]
    assert money == ["refund_latest_payment_if_any", "cancel_subscription_if_present"]
    admin, customer = calls.of("send_email")
    assert "Refund re_1 (2900 eur)" in admin.body and "by hand" not in admin.body
    assert customer.to == inp.email and "refunded" in customer.subject
    assert calls.of("create_server") == []
