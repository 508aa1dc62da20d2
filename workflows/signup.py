"""SignupWorkflow: from a signup to an active tenant, or to a clean failure.

One run per subdomain (`signup-{subdomain}`). The API starts it with update-with-start
and waits on the `begin_checkout` update for the Checkout URL; a repeated request joins
the same run. Payment arrives as a signal from the verified webhook, approval (when
manual) as an update. Provisioning is a saga: each undo step is registered *before* its
step runs, because a step can take effect and still fail (a create whose answer was
lost), and undo steps are idempotent (`*_if_present`).

Operators repair a failed signup by resetting this workflow to the workflow task that
started provisioning (see README, "Runbook"): compensation left nothing behind, every
step adopts what exists, and a subscription cancelled by compensation is replaced once.

Quick idempotent steps (the tenant's row, Stripe, mail) run as local activities, in the
worker that runs the workflow, and the writes between two stage changes (rows, the
provisioning log, the signup's stage) go in one: a task-queue round trip per write was
most of a signup's time. Long steps (server, DNS, health) are activities that heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    WorkflowAlreadyStartedError,
)

with workflow.unsafe.imports_passed_through():
    from activities.billing import BillingActivities
    from activities.dns import DnsActivities
    from activities.health import HealthActivities
    from activities.hetzner import HetznerActivities
    from activities.mail import MailActivities
    from activities.pool import PoolActivities
    from activities.tenant_records import RecordActivities
    from tenantry.contracts.common import (
        SA_STAGE,
        SA_SUBDOMAIN,
        SA_TENANT_ID,
        ErrorType,
        server_pool_workflow_id,
    )
    from tenantry.contracts.pool import (
        PoolClaim,
        PoolClaimInput,
        PoolDemand,
        PoolKey,
        PoolPrepareInput,
        PoolReleaseInput,
    )
    from tenantry.contracts.signup import (
        ApprovalDecision,
        CheckoutClosed,
        CheckoutRequest,
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
        SignupAccepted,
        SignupInput,
        SignupProgress,
        SignupRecord,
        SignupState,
        SignupStatus,
        Stage,
        SubscriptionRef,
        TenantKeys,
        TenantRecord,
    )
    from tenantry.contracts.tenant import TenantInput
    from tenantry.rules.plans import TENANT_PLANS, TenantTier
    from workflows.pool import ServerPoolWorkflow
    from workflows.tenant import TenantWorkflow

from workflows.policies import (
    FOREVER,
    HEARTBEAT,
    HOST_TIMEOUT,
    PAGE_TIMEOUT,
    STEP_RETRY,
    step,
)

TENANT_NAMESPACE = uuid.UUID("0f6c51e8-5b1f-4c55-8a0e-7d0b3c7f2a11")


@workflow.defn
class SignupWorkflow:
    @workflow.init
    def __init__(self, inp: SignupInput) -> None:
        self._inp = inp
        self._status = SignupStatus.PENDING
        self._stage = Stage.CHECKOUT
        self._checkout: CheckoutSessionRef | None = None
        self._customer_id: str | None = None
        self._payment: PaymentReceived | None = None
        # Payments signalled before the Checkout session is known: checked against it
        # once it exists (a signal can overtake the step that creates the session).
        self._held_payments: list[PaymentReceived] = []
        self._seen_events: set[str] = set()
        self._decision: ApprovalDecision | None = None
        self._error: str | None = None
        self._tenant_id = str(uuid.uuid5(TENANT_NAMESPACE, inp.signup_id))
        self._tenant_created = False
        self._subscription_id: str | None = None
        self._quick = timedelta(seconds=inp.step_timeout_seconds)
        # Undo steps of provisioning, registered before their steps, run in reverse.
        self._undo: list[Callable[[], Awaitable[Any]]] = []
        # Writes that go to the database with the next stage change.
        self._pending_tenants: list[TenantRecord] = []
        self._pending_events: list[ProvisioningEvent] = []

    # -- messages ---------------------------------------------------------------------
    @workflow.update
    async def begin_checkout(self, request: CheckoutRequest) -> SignupAccepted:
        """Answers once the Checkout session exists (or the signup has failed)."""
        await workflow.wait_condition(lambda: self._checkout is not None or self._finished)
        return SignupAccepted(
            signup_id=self._inp.signup_id,
            status=self._status,
            checkout_url=self._checkout.url if self._checkout else None,
        )

    @begin_checkout.validator
    def _validate_checkout(self, request: CheckoutRequest) -> None:
        if request.email.lower() != self._inp.email.lower() or request.tier != self._inp.tier:
            raise ApplicationError("subdomain is taken by another signup", type=ErrorType.CONFLICT)
        if self._status not in (SignupStatus.PENDING,):
            raise ApplicationError(
                f"signup for this subdomain is already {self._status.value}",
                type=ErrorType.CONFLICT,
            )

    @workflow.signal
    def payment_completed(self, payment: PaymentReceived) -> None:
        """From the verified webhook; duplicates and other sessions' events change nothing.

        Before the session exists the payment is held, not taken on trust: it is applied
        only if it turns out to be for this signup's session.
        """
        if payment.event_id in self._seen_events or self._payment is not None:
            return
        self._seen_events.add(payment.event_id)
        if self._checkout is None:
            self._held_payments.append(payment)
            return
        self._accept_payment(payment)

    def _accept_payment(self, payment: PaymentReceived) -> None:
        assert self._checkout is not None
        if self._payment is not None:
            return
        if payment.checkout_session_id != self._checkout.session_id:
            workflow.logger.warning("payment for another checkout session ignored")
            return
        self._payment = payment

    @workflow.update
    def decide(self, decision: ApprovalDecision) -> SignupState:
        self._decision = decision
        return self.state()

    @decide.validator
    def _validate_decision(self, decision: ApprovalDecision) -> None:
        if self._status != SignupStatus.AWAITING_APPROVAL or self._decision is not None:
            raise ApplicationError(
                f"signup is {self._status.value}, not awaiting approval", type=ErrorType.CONFLICT
            )

    @workflow.query
    def state(self) -> SignupState:
        return SignupState(
            signup_id=self._inp.signup_id,
            subdomain=self._inp.subdomain,
            status=self._status,
            stage=self._stage,
            tenant_id=self._tenant_id if self._tenant_created else None,
            checkout_url=self._checkout.url if self._checkout else None,
            error=self._error,
        )

    @property
    def _finished(self) -> bool:
        return self._status in (
            SignupStatus.ACTIVE,
            SignupStatus.FAILED,
            SignupStatus.EXPIRED,
            SignupStatus.REJECTED,
        )

    # -- the run ----------------------------------------------------------------------
    @workflow.run
    async def run(self, inp: SignupInput) -> SignupState:
        workflow.upsert_search_attributes([SA_SUBDOMAIN.value_set(inp.subdomain)])
        await self._enter(Stage.CHECKOUT, SignupStatus.PENDING)
        await self._checkout_step()
        for held in self._held_payments:
            self._accept_payment(held)
        self._held_payments = []
        await self._enter(Stage.AWAITING_PAYMENT, SignupStatus.PENDING)
        expiry = timedelta(seconds=inp.checkout_expiry_seconds)
        try:
            await workflow.wait_condition(lambda: self._payment is not None, timeout=expiry)
        except TimeoutError:
            closed = await self._close_checkout()
            if not closed.paid:
                return await self._expire()
            # Paid before the window closed; its webhook is late (or lost).
            if inp.late_payment == "refund":
                return await self._refund_late_payment(closed)
            await self._accept_late_payment(closed)
        assert self._payment is not None
        self._subscription_id = self._payment.subscription_id
        await self._enter(Stage.AWAITING_PAYMENT, SignupStatus.PAID, "payment received")

        if inp.approval_mode == "manual":
            await self._enter(Stage.AWAITING_APPROVAL, SignupStatus.AWAITING_APPROVAL)
            await workflow.wait_condition(lambda: self._decision is not None)
            assert self._decision is not None
            if not self._decision.approved:
                return await self._reject(self._decision)

        try:
            await self._provision()
        except (ActivityError, ApplicationError) as err:
            await self._fail(err)
            raise ApplicationError(
                f"signup {inp.subdomain} failed and was compensated: {self._error}",
                type="SignupFailed",
                non_retryable=True,
            ) from err
        return self.state()

    async def _checkout_step(self) -> None:
        inp = self._inp
        base_key = f"{workflow.info().workflow_id}:{inp.signup_id}"
        customer: CustomerRef = await step(
            BillingActivities.create_customer,
            CreateCustomerInput(
                idempotency_key=f"{base_key}:customer",
                email=inp.email,
                signup_id=inp.signup_id,
                subdomain=inp.subdomain,
            ),
            local=True,
            limit=self._quick,
            retry=STEP_RETRY,
        )
        self._customer_id = customer.customer_id
        self._checkout = await step(
            BillingActivities.create_checkout_session,
            CheckoutSessionInput(
                idempotency_key=f"{base_key}:checkout",
                customer_id=customer.customer_id,
                signup_id=inp.signup_id,
                subdomain=inp.subdomain,
                tier=inp.tier,
                expires_at=workflow.now() + timedelta(seconds=inp.checkout_expiry_seconds),
            ),
            local=True,
            limit=self._quick,
            retry=STEP_RETRY,
        )

    async def _provision(self) -> None:
        inp = self._inp
        assert self._payment is not None and self._customer_id is not None
        undo = self._undo
        # The workflow task that starts provisioning is where an operator resets a
        # compensated signup to (its WorkflowTaskCompleted follows this task's start).
        reset_event_id = workflow.info().get_current_history_length() + 1
        entered = self._enter(Stage.SECRETS, SignupStatus.PROVISIONING)
        if self._subscription_id:
            # The stage's write and the subscription's check at once: neither needs the other.
            _, subscription = await _all(
                entered,
                step(
                    BillingActivities.ensure_subscription_active,
                    EnsureSubscriptionInput(
                        subscription_id=self._subscription_id,
                        customer_id=self._customer_id,
                        tier=inp.tier,
                        signup_id=inp.signup_id,
                        subdomain=inp.subdomain,
                    ),
                    local=True,
                    limit=self._quick,
                    retry=STEP_RETRY,
                ),
            )
            self._subscription_id = subscription.subscription_id
        else:
            await entered
        self._log("provisioning.started", reset_event_id=reset_event_id)
        tenant = self._tenant_record("provisioning")
        keys: TenantKeys = await step(
            RecordActivities.ensure_tenant,
            tenant,
            local=True,
            limit=self._quick,
            retry=STEP_RETRY,
        )
        self._tenant_created = True
        workflow.upsert_search_attributes([SA_TENANT_ID.value_set(self._tenant_id)])
        self._log("tenant.created", tenant_id=self._tenant_id)

        # Server: a warm one from the pool when there is a pool, else a new one.
        await self._enter(Stage.SERVER, SignupStatus.PROVISIONING)
        server_name = f"tenant-{inp.subdomain}"
        labels = {
            "tenantry/managed": "true",
            "tenantry/tenant": self._tenant_id,
            "tenantry/subdomain": inp.subdomain,
        }
        host_key = keys.ssh_host_public_key
        warm = await self._claim_warm_server(server_name, labels) if inp.pool_location else None
        if warm is not None:
            server, host_key = warm
        else:
            # Register the undo first; the create may land and still fail.
            undo.append(
                lambda: self._undo_activity(
                    HetznerActivities.delete_server_if_present, ServerRef(name=server_name)
                )
            )
            server = await step(
                HetznerActivities.create_server,
                ServerSpec(
                    name=server_name,
                    tenant_id=self._tenant_id,
                    subdomain=inp.subdomain,
                    server_type=TENANT_PLANS[TenantTier(inp.tier)].server_type,
                    labels=labels,
                ),
                limit=HOST_TIMEOUT,
                heartbeat=HEARTBEAT,
                retry=STEP_RETRY,
            )
        tenant.server_id, tenant.server_name, tenant.server_ip = (
            server.server_id,
            server.name,
            server.ipv4,
        )
        self._save_tenant(tenant)
        self._log(
            "server.ready", server_id=server.server_id, ipv4=server.ipv4, adopted=server.adopted
        )

        # DNS and the health gate run at once: the gate asks the server at its address
        # (the name is only its Host header), so it need not wait for the record. The
        # stage moves to health when the record is in sync; a gate that failed meanwhile
        # is reported at that stage.
        await self._enter(Stage.DNS, SignupStatus.PROVISIONING)
        record = DnsRecord(fqdn=f"{inp.subdomain}.{inp.base_domain}", ipv4=server.ipv4)
        undo.append(lambda: self._undo_activity(DnsActivities.delete_dns_record_if_present, record))
        budget = timedelta(seconds=inp.health_budget_seconds)
        health = asyncio.ensure_future(
            step(
                HealthActivities.wait_healthy,
                HealthGateInput(
                    url=f"http://{server.ipv4}/health",
                    host_header=record.fqdn,
                    deadline=workflow.now() + budget,
                    ssh_host=server.ipv4,
                    ssh_host_public_key=host_key,
                ),
                limit=budget + timedelta(minutes=2),
                heartbeat=HEARTBEAT,
                retry=STEP_RETRY,
            )
        )
        try:
            change_id = await step(
                DnsActivities.upsert_dns_record,
                record,
                limit=timedelta(minutes=5),
                heartbeat=HEARTBEAT,
                retry=STEP_RETRY,
            )
        except BaseException:
            health.cancel()
            with contextlib.suppress(ActivityError, CancelledError, asyncio.CancelledError):
                await health
            raise
        tenant.dns_record = record.fqdn
        self._save_tenant(tenant)
        self._log("dns.insync", fqdn=record.fqdn, change_id=change_id)
        await self._enter(Stage.HEALTH, SignupStatus.PROVISIONING)
        await health
        self._log("health.ok", url=f"https://{record.fqdn}")

        # Welcome (the stage's write and the mail at once), then active.
        await _all(
            self._enter(Stage.WELCOME, SignupStatus.PROVISIONING),
            step(
                MailActivities.send_email,
                EmailMessage(
                    to=inp.email,
                    subject=f"Welcome to Tenantry: {record.fqdn} is ready",
                    body=(
                        f"Your instance is live at https://{record.fqdn}\n\n"
                        "Thank you for signing up.\n"
                    ),
                    dedupe_key=f"welcome-{inp.signup_id}",
                ),
                local=True,
                limit=self._quick,
                retry=STEP_RETRY,
            ),
        )
        tenant.status = "active"
        self._save_tenant(tenant)
        # A reset or repeated run finds the tenant's entity workflow already living.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await workflow.start_child_workflow(
                TenantWorkflow.run,
                TenantInput(
                    tenant_id=self._tenant_id,
                    subdomain=inp.subdomain,
                    tier=inp.tier,
                    signup_id=inp.signup_id,
                    server_name=server.name,
                    server_ip=server.ipv4,
                    fqdn=record.fqdn,
                    subscription_id=self._subscription_id,
                    email=inp.email,
                    admin_email=inp.admin_email,
                    grace_seconds=inp.payment_grace_seconds,
                    health_budget_seconds=inp.health_budget_seconds,
                    step_timeout_seconds=inp.step_timeout_seconds,
                    max_history_length=inp.tenant_history_limit,
                ),
                id=f"tenant-{self._tenant_id}",
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(SA_TENANT_ID, self._tenant_id),
                        SearchAttributePair(SA_SUBDOMAIN, inp.subdomain),
                    ]
                ),
            )
        await self._enter(Stage.ACTIVE, SignupStatus.ACTIVE, "tenant is active")

    # -- the warm pool's claim step ---------------------------------------------------
    async def _claim_warm_server(
        self, name: str, labels: dict[str, str]
    ) -> tuple[ServerInfo, str] | None:
        """Claims a booted server from the pool (see workflows/pool.py) and makes it the
        tenant's; None when the pool is empty. The claim is keyed by the signup id, so a
        retry gets the same server; its undo (registered first) deletes it again."""
        inp = self._inp
        assert inp.pool_location is not None
        key = PoolKey(tier=inp.tier, location=inp.pool_location)
        release = PoolReleaseInput(signup_id=inp.signup_id)
        self._undo.append(
            lambda: self._undo_activity(PoolActivities.pool_release_if_present, release)
        )
        claim: PoolClaim = await step(
            PoolActivities.pool_claim_server,
            PoolClaimInput(signup_id=inp.signup_id, tenant_id=self._tenant_id, key=key),
            limit=self._quick,
            retry=STEP_RETRY,
        )
        pool: workflow.ExternalWorkflowHandle[ServerPoolWorkflow] = (
            workflow.get_external_workflow_handle_for(
                ServerPoolWorkflow.run, server_pool_workflow_id(key.tier, key.location)
            )
        )
        demand = PoolDemand(signup_id=inp.signup_id, hit=claim.server is not None)
        with contextlib.suppress(Exception):  # no pool workflow: nothing to refill
            await pool.signal(ServerPoolWorkflow.demand, demand)
        if claim.server is None or claim.host_public_key is None:
            self._log("pool.miss", location=key.location)
            return None
        self._log("pool.claimed", pool_server=claim.server.name, server_id=claim.server.server_id)
        server: ServerInfo = await step(
            PoolActivities.pool_prepare_server,
            PoolPrepareInput(
                signup_id=inp.signup_id,
                tenant_id=self._tenant_id,
                subdomain=inp.subdomain,
                name=name,
                labels=labels,
            ),
            limit=PAGE_TIMEOUT,
            heartbeat=HEARTBEAT,
            retry=STEP_RETRY,
        )
        return server, claim.host_public_key

    # -- endings ----------------------------------------------------------------------
    async def _fail(self, err: BaseException) -> None:
        self._error = _customer_reason(self._stage, err)
        failed_at = self._stage
        await self._enter(Stage.COMPENSATING, SignupStatus.PROVISIONING, self._error)
        for undo in reversed(self._undo):
            await undo()
        if self._subscription_id and self._inp.cancel_subscription_on_failure:
            await self._undo_activity(
                BillingActivities.cancel_subscription_if_present,
                SubscriptionRef(subscription_id=self._subscription_id),
            )
        if self._tenant_created:
            self._save_tenant(self._tenant_record("failed"))
        await self._enter(Stage.FAILED, SignupStatus.FAILED, self._error)
        await self._mail_quietly(
            EmailMessage(
                to=self._inp.admin_email,
                subject=f"Signup {self._inp.subdomain} failed at {failed_at.value}",
                body=f"Signup {self._inp.signup_id} failed at {failed_at.value}: {err}\n"
                f"Workflow: {workflow.info().workflow_id}. Everything it created was removed.\n",
                dedupe_key=f"failed-admin-{self._inp.signup_id}-{workflow.info().run_id}",
            )
        )
        cancelled = self._inp.cancel_subscription_on_failure and self._subscription_id
        await self._mail_quietly(
            EmailMessage(
                to=self._inp.email,
                subject="We could not set up your Tenantry instance",
                body=f"{self._error}\n"
                + ("Your subscription has been cancelled. " if cancelled else "")
                + "Our team has been notified.\n",
                dedupe_key=f"failed-customer-{self._inp.signup_id}-{workflow.info().run_id}",
            )
        )

    async def _close_checkout(self) -> CheckoutClosed:
        if self._checkout is None:
            return CheckoutClosed(paid=False)
        closed: CheckoutClosed = await step(
            BillingActivities.close_checkout_session,
            self._checkout,
            limit=PAGE_TIMEOUT,
            retry=FOREVER,
        )
        self._log("checkout.closed", paid=closed.paid)
        return closed

    async def _expire(self) -> SignupState:
        self._error = "checkout expired before payment"
        await self._enter(Stage.EXPIRED, SignupStatus.EXPIRED, self._error)
        return self.state()

    async def _accept_late_payment(self, closed: CheckoutClosed) -> None:
        """Honours a payment made in time whose webhook had not come: provisions it."""
        assert self._checkout is not None
        self._payment = PaymentReceived(
            event_id=f"checkout-closed-{self._checkout.session_id}",
            checkout_session_id=self._checkout.session_id,
            customer_id=closed.customer_id,
            subscription_id=closed.subscription_id,
        )
        self._log("payment.late", subscription_id=closed.subscription_id, then="provision")
        await self._late_payment_mails(
            admin_body="Its webhook had not arrived when Checkout closed; the tenant is "
            "being provisioned as for any paid signup.\n",
            customer_subject="Payment received: your Tenantry instance is on its way",
            customer_body="We received your payment just as checkout closed; your instance "
            "is being set up and you will get a welcome mail when it is ready.\n",
        )

    async def _refund_late_payment(self, closed: CheckoutClosed) -> SignupState:
        """`TENANTRY_LATE_PAYMENT=refund`: refunds, cancels, and ends the signup.

        Refund first, then cancel: a careful operator's order, so that a cancelled
        subscription never stands for money still kept. A refund Stripe refuses (no retry
        can fix it) still cancels, and the admin mail asks for the refund by hand.
        """
        self._subscription_id = closed.subscription_id
        refund: RefundResult | None = None
        if closed.subscription_id:
            refund = await self._refund(closed.subscription_id)
            await self._undo_activity(
                BillingActivities.cancel_subscription_if_present,
                SubscriptionRef(subscription_id=closed.subscription_id),
            )
        self._log("payment.late", subscription_id=closed.subscription_id, then="refund")
        refunded = refund is not None and refund.refund_id is not None
        self._error = "payment arrived after checkout closed; the subscription was cancelled" + (
            " and the payment refunded" if refunded else ""
        )
        await self._enter(Stage.EXPIRED, SignupStatus.EXPIRED, self._error)
        if refund is not None and refund.refund_id is not None:
            what = (
                f"Refund {refund.refund_id} ({refund.amount} {refund.currency}) was made"
                f" on {refund.payment_intent_id}, then subscription {closed.subscription_id}"
                " was cancelled (TENANTRY_LATE_PAYMENT=refund).\n"
            )
            customer_says = "was cancelled and your payment has been refunded"
        elif refund is not None:
            what = (
                f"Subscription {closed.subscription_id} had no paid invoice to refund; it was"
                " cancelled (TENANTRY_LATE_PAYMENT=refund).\n"
            )
            customer_says = "was cancelled; nothing was charged"
        else:
            what = (
                f"Subscription {closed.subscription_id} was cancelled "
                "(TENANTRY_LATE_PAYMENT=refund), but Stripe refused its refund: refund its "
                "first payment in Stripe by hand.\n"
            )
            customer_says = "was cancelled and your payment will be refunded"
        await self._late_payment_mails(
            admin_body=f"Its webhook had not arrived when Checkout closed. {what}",
            customer_subject="Your Tenantry signup was cancelled and refunded"
            if refunded
            else "Your Tenantry signup was cancelled and will be refunded",
            customer_body="Your payment reached us after checkout had closed, so the signup "
            f"{customer_says}. You are welcome to sign up again.\n",
        )
        return self.state()

    async def _refund(self, subscription_id: str) -> RefundResult | None:
        """The refund of the subscription's payment, once; None if Stripe refused it."""
        key = f"{workflow.info().workflow_id}:refund"
        try:
            result: RefundResult = await step(
                BillingActivities.refund_latest_payment_if_any,
                RefundInput(subscription_id=subscription_id, idempotency_key=key),
                limit=PAGE_TIMEOUT,
                retry=FOREVER,
            )
        except ActivityError as err:
            workflow.logger.warning("late payment refund refused: %s", err.cause or err)
            self._log("refund.refused", subscription_id=subscription_id)
            return None
        self._log(
            "refund.made",
            subscription_id=subscription_id,
            refund_id=result.refund_id,
            amount=result.amount,
        )
        return result

    async def _late_payment_mails(
        self, *, admin_body: str, customer_subject: str, customer_body: str
    ) -> None:
        inp = self._inp
        await self._mail_quietly(
            EmailMessage(
                to=inp.admin_email,
                subject=f"Signup {inp.subdomain} was paid as Checkout closed",
                body=f"Signup {inp.signup_id} ({inp.email}) paid before its Checkout session "
                f"closed. {admin_body}Workflow: {workflow.info().workflow_id}.\n",
                dedupe_key=f"late-payment-admin-{inp.signup_id}",
            )
        )
        await self._mail_quietly(
            EmailMessage(
                to=inp.email,
                subject=customer_subject,
                body=customer_body,
                dedupe_key=f"late-payment-customer-{inp.signup_id}",
            )
        )

    async def _reject(self, decision: ApprovalDecision) -> SignupState:
        if self._subscription_id:
            await self._undo_activity(
                BillingActivities.cancel_subscription_if_present,
                SubscriptionRef(subscription_id=self._subscription_id),
            )
        self._error = decision.reason or "signup was not approved"
        await self._enter(Stage.FAILED, SignupStatus.REJECTED, self._error)
        await self._mail_quietly(
            EmailMessage(
                to=self._inp.email,
                subject="Your Tenantry signup was not approved",
                body=f"{self._error}\nYour subscription has been cancelled.\n",
                dedupe_key=f"rejected-{self._inp.signup_id}",
            )
        )
        return self.state()

    # -- helpers ----------------------------------------------------------------------
    async def _enter(self, stage: Stage, status: SignupStatus, note: str | None = None) -> None:
        self._stage, self._status = stage, status
        workflow.upsert_search_attributes([SA_STAGE.value_set(stage.value)])
        inp = self._inp
        record = SignupRecord(
            signup_id=inp.signup_id,
            subdomain=inp.subdomain,
            email=inp.email,
            tier=inp.tier,
            status_token_hash=inp.status_token_hash,
            status=status,
            step=stage,
            error=self._error,
            stripe_customer_id=self._customer_id,
            stripe_checkout_session_id=self._checkout.session_id if self._checkout else None,
            stripe_subscription_id=self._subscription_id,
            tenant_id=self._tenant_id if self._tenant_created else None,
        )
        event = self._event(f"stage.{stage.value}", status=status.value, note=note)
        progress = SignupProgress(
            tenants=self._pending_tenants, events=[*self._pending_events, event], signup=record
        )
        await step(
            RecordActivities.record_signup_progress,
            progress,
            local=True,
            limit=self._quick,
            retry=FOREVER,
        )
        self._pending_tenants, self._pending_events = [], []

    def _log(self, action: str, **details: str | int | float | bool | None) -> None:
        """Logs a step's outcome; written with the next stage change (every path ends on one)."""
        self._pending_events.append(self._event(action, **details))

    def _event(self, action: str, **details: str | int | float | bool | None) -> ProvisioningEvent:
        return ProvisioningEvent(
            action=action,
            signup_id=self._inp.signup_id,
            tenant_id=self._tenant_id if self._tenant_created else None,
            details=details,
        )

    def _tenant_record(self, status: str) -> TenantRecord:
        return TenantRecord(
            tenant_id=self._tenant_id,
            signup_id=self._inp.signup_id,
            subdomain=self._inp.subdomain,
            tier=self._inp.tier,
            status=status,
            email=self._inp.email,
            stripe_customer_id=self._customer_id,
            stripe_subscription_id=self._subscription_id,
        )

    def _save_tenant(self, tenant: TenantRecord) -> None:
        """Saves the tenant's row as it is now; written with the next stage change."""
        self._pending_tenants.append(tenant.model_copy())

    async def _undo_activity(self, method: Callable[..., Any], arg: Any) -> None:
        """Runs an undo step to completion, even if the workflow is being cancelled."""
        handle = workflow.start_activity_method(
            method,
            arg,
            start_to_close_timeout=PAGE_TIMEOUT,
            heartbeat_timeout=HEARTBEAT,
            retry_policy=FOREVER,
        )
        await asyncio.shield(handle)
        self._log(f"undo.{getattr(method, '__name__', 'step')}")

    async def _mail_quietly(self, message: EmailMessage) -> None:
        try:
            await step(
                MailActivities.send_email,
                message,
                local=True,
                limit=self._quick,
                retry=STEP_RETRY,
            )
        except (ActivityError, CancelledError):
            workflow.logger.warning("could not send a notification mail")


async def _all(*steps: Awaitable[Any]) -> list[Any]:
    """Runs independent steps at once and waits for every one of them.

    The first failure is raised only when all have ended, so no step is left running
    behind the compensation that follows (a write racing the saga's own writes).
    """
    results = await asyncio.gather(*steps, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)


def _customer_reason(stage: Stage, err: BaseException) -> str:
    """A reason a customer can read; the technical one goes to the provisioning log."""
    what = {
        Stage.SECRETS: "prepare your instance",
        Stage.SERVER: "create your server",
        Stage.DNS: "set up your domain name",
        Stage.HEALTH: "start your instance",
        Stage.WELCOME: "finish your setup",
    }.get(stage, "set up your instance")
    cause = err.cause if isinstance(err, ActivityError) and err.cause else err
    return f"We could not {what}: {cause}"
