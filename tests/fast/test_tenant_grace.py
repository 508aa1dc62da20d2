"""TenantWorkflow's payment grace on skipped time: a failed invoice starts a 7-day grace
(mail now, a reminder a day before the end), after which the tenant is suspended for
payment; an invoice paid within the grace ends it and nothing is suspended.

The slow tier's counterpart (tests/tenants/test_tenant_billing.py) sends Stripe's signed
webhooks through the API with a grace of seconds; here a real week passes in
milliseconds and the stack is a mock.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tenantry.contracts.signup import (
    AuditEvent,
    EmailMessage,
    HealthGateInput,
    ProvisioningEvent,
    TenantChange,
    TenantRecord,
)
from tenantry.contracts.tenant import BillingEvent, StackCommand, TenantInput, TenantState
from tests.fast.mocks import Calls, mocked, worker
from tests.support.poll import eventually_async
from workflows.tenant import TenantWorkflow

pytestmark = pytest.mark.fast

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
GRACE = 7 * DAY


def tenant_input() -> TenantInput:
    tenant_id = str(uuid.uuid4())
    return TenantInput(
        tenant_id=tenant_id,
        subdomain="late-payer",
        tier="starter",
        server_name="tenant-late-payer",
        server_ip="203.0.113.9",
        fqdn="late-payer.tenants.example",
        email="owner@late-payer.example",
        grace_seconds=GRACE.total_seconds(),
        version="1.0",
    )


def tenant_activities(calls: Calls, answers: dict[str, str] | None = None) -> list[Any]:
    """The tenant's records, mail and stack; `answers` maps a stack command to its output."""
    out = answers or {}
    return [
        mocked(calls, "log_provisioning", ProvisioningEvent),
        mocked(calls, "update_tenant", TenantRecord),
        mocked(calls, "record_tenant_change", TenantChange),
        mocked(calls, "audit", AuditEvent),
        mocked(calls, "send_email", EmailMessage, lambda _: True),
        mocked(calls, "run_stack_command", StackCommand, lambda cmd: out.get(cmd.command, "")),
        mocked(calls, "wait_healthy", HealthGateInput, lambda _: "healthy"),
    ]


def stack_commands(calls: Calls) -> list[str]:
    return [" ".join([c.command, *c.args]) for c in calls.of("run_stack_command")]


def logged(calls: Calls) -> list[str]:
    return [e.action for e in calls.of("log_provisioning")] + [
        c.event.action for c in calls.of("record_tenant_change")
    ]


def mails(calls: Calls) -> list[str]:
    return [m.subject for m in calls.of("send_email")]


async def state_once(
    handle: WorkflowHandle[Any, Any], done: Any, what: str, timeout: float = 10
) -> TenantState:
    """The tenant's state once `done(state)`: the worker acts on a fired timer a moment
    after the skipped time has passed."""
    state: TenantState = await eventually_async(
        lambda: handle.query(TenantWorkflow.state), until=done, timeout=timeout, what=what
    )
    return state


async def settled(handle: WorkflowHandle[Any, Any], event_id: str) -> TenantState:
    """The state once the workflow has caught up with the skipped time.

    The probe is an event the workflow only logs. It is handled under the billing lock,
    with any grace step that is due by then (the workflow's clock is past the skip), so
    once it is in and the lock is free, whatever the skip made due has happened.
    """
    probe = BillingEvent(event_id=event_id, type="invoice.upcoming")
    await handle.signal(TenantWorkflow.billing_event, probe)
    return await state_once(
        handle, lambda s: s.events[-1:] == [event_id] and s.busy_with is None, event_id
    )


async def test_an_unpaid_invoice_suspends_the_tenant_after_the_grace(
    skipping_env: WorkflowEnvironment,
) -> None:
    calls = Calls()
    inp = tenant_input()
    async with worker(skipping_env.client, [TenantWorkflow], tenant_activities(calls)) as run:
        handle = await run.start(TenantWorkflow.run, inp, id=f"tenant-{inp.tenant_id}")
        failed = BillingEvent(event_id="evt_failed", type="invoice.payment_failed")
        await handle.signal(TenantWorkflow.billing_event, failed)
        started = await state_once(handle, lambda s: s.grace_until is not None, "the grace")
        assert mails(calls) == ["Your payment failed"]
        # A week from the failure, in the workflow's time.
        history_start = (await handle.describe()).start_time
        assert history_start is not None and started.grace_until is not None
        assert GRACE <= started.grace_until - history_start < GRACE + timedelta(minutes=1)
        # Stripe retries its webhook: the same event changes nothing.
        await handle.signal(TenantWorkflow.billing_event, failed)

        # An hour before the reminder is due: nothing yet.
        await skipping_env.sleep(6 * DAY - HOUR)
        await settled(handle, "evt_probe_1")
        assert mails(calls) == ["Your payment failed"]
        await skipping_env.sleep(2 * HOUR)
        await eventually_async(
            lambda: mails(calls), until=lambda m: len(m) == 2, timeout=10, what="the reminder"
        )
        assert mails(calls)[1] == "Reminder: your payment is still due"

        # An hour before the end the tenant still runs; an hour after, it is suspended.
        await skipping_env.sleep(DAY - 2 * HOUR)
        state = await settled(handle, "evt_probe_2")
        assert state.status == "active" and stack_commands(calls) == []
        await skipping_env.sleep(2 * HOUR)
        state = await state_once(handle, lambda s: s.status == "suspended", "the suspension")

    assert state.suspended_reason == "payment" and state.grace_until is None
    assert state.events == ["evt_failed", "evt_probe_1", "evt_probe_2"]
    assert stack_commands(calls) == ["stop"]
    assert logged(calls)[-2:] == ["grace.expired", "tenant.suspend"]
    (audit,) = calls.of("audit")
    assert (audit.actor, audit.action, audit.details) == (
        "billing",
        "tenant.suspend",
        {"reason": "payment overdue"},
    )
    assert len(mails(calls)) == 2  # no second "payment failed" for the repeated event


async def test_an_invoice_paid_within_the_grace_keeps_the_tenant_running(
    skipping_env: WorkflowEnvironment,
) -> None:
    calls = Calls()
    inp = tenant_input()
    async with worker(skipping_env.client, [TenantWorkflow], tenant_activities(calls)) as run:
        handle = await run.start(TenantWorkflow.run, inp, id=f"tenant-{inp.tenant_id}")
        await handle.signal(
            TenantWorkflow.billing_event,
            BillingEvent(event_id="evt_failed", type="invoice.payment_failed"),
        )
        await state_once(handle, lambda s: s.grace_until is not None, "the grace")
        await skipping_env.sleep(3 * DAY)
        await handle.signal(
            TenantWorkflow.billing_event, BillingEvent(event_id="evt_paid", type="invoice.paid")
        )
        await state_once(handle, lambda s: s.grace_until is None, "the end of the grace")

        # Past the week: had the grace gone on, the reminder and the suspension would be due.
        await skipping_env.sleep(5 * DAY)
        state = await settled(handle, "evt_probe")

    assert state.status == "active" and state.suspended_reason is None
    assert state.events == ["evt_failed", "evt_paid", "evt_probe"]
    assert mails(calls) == ["Your payment failed"]
    assert stack_commands(calls) == []
    assert "grace.ended" in logged(calls) and "grace.expired" not in logged(calls)
    assert calls.of("audit") == []
