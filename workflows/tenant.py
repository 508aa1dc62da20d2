"""TenantWorkflow: one long-lived entity per tenant (`tenant-{tenant_id}`).

Every operation on a tenant goes through it, so operations are serialized, durable and
visible in the Temporal UI: admin operations arrive as updates (validated, refused with
a `Conflict` when they do not fit the state), Stripe's billing events as signals
(deduplicated by event id). It continues-as-new when its history grows, after its
handlers finish, carrying its whole state and any billing event not yet handled.

Rollouts reach a tenant through the `deploy_version` update (one per rollout, by
rollout id): the image tag is deployed over SSH, health-gated on the new version, and
rolled back to the previous tag when the gate fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.billing import BillingActivities
    from activities.dns import DnsActivities
    from activities.health import HealthActivities
    from activities.hetzner import HetznerActivities
    from activities.mail import MailActivities
    from activities.tenant_records import RecordActivities
    from activities.tenant_stack import TenantStackActivities
    from tenantry.contracts.common import SA_STAGE, ErrorType
    from tenantry.contracts.rollout import RolloutTenantStatus, TenantDeployResult, VersionDeploy
    from tenantry.contracts.signup import (
        AuditEvent,
        DnsRecord,
        EmailMessage,
        HealthGateInput,
        ProvisioningEvent,
        ServerRef,
        SubscriptionRef,
        TenantChange,
        TenantRecord,
    )
    from tenantry.contracts.tenant import (
        BillingEvent,
        PriceChangeInput,
        ResizeInput,
        StackCommand,
        TenantInput,
        TenantOperation,
        TenantState,
        TierChange,
    )
    from tenantry.rules.plans import TENANT_PLANS, TenantTier

from workflows.policies import FOREVER, HEARTBEAT, PAGE_TIMEOUT, STEP_RETRY, step

FAILED_EVENTS = frozenset({"invoice.payment_failed"})
PAID_EVENTS = frozenset({"invoice.payment_succeeded", "invoice.paid"})
ROLLOUTS_REMEMBERED = 20


@workflow.defn
class TenantWorkflow:
    @workflow.init
    def __init__(self, inp: TenantInput) -> None:
        self._s = inp.model_copy(deep=True)
        self._inbox: list[BillingEvent] = list(inp.pending)
        self._s.pending = []
        self._seen: set[str] = set(inp.events) | {e.event_id for e in self._inbox}
        self._lock = asyncio.Lock()
        self._busy: str | None = None
        self._quick = timedelta(seconds=inp.step_timeout_seconds)

    # -- messages ---------------------------------------------------------------------
    @workflow.signal
    def billing_event(self, event: BillingEvent) -> None:
        """Stripe events routed by the webhook; duplicates are dropped by event id."""
        if event.event_id in self._seen:
            return
        self._seen.add(event.event_id)
        self._inbox.append(event)

    @workflow.update
    async def suspend(self, op: TenantOperation) -> TenantState:
        await self._exclusive("suspending", {"active"}, lambda: self._suspend(op, "admin"))
        return self.state()

    @suspend.validator
    def _validate_suspend(self, op: TenantOperation) -> None:
        self._require("suspend", {"active"})

    @workflow.update
    async def unsuspend(self, op: TenantOperation) -> TenantState:
        await self._exclusive("unsuspending", {"suspended"}, lambda: self._unsuspend(op))
        return self.state()

    @unsuspend.validator
    def _validate_unsuspend(self, op: TenantOperation) -> None:
        self._require("unsuspend", {"suspended"})

    @workflow.update
    async def change_tier(self, change: TierChange) -> TenantState:
        await self._exclusive("changing tier", {"active"}, lambda: self._change_tier(change))
        return self.state()

    @change_tier.validator
    def _validate_change_tier(self, change: TierChange) -> None:
        if change.tier not in {t.value for t in TenantTier}:
            raise ApplicationError(f"unknown tier {change.tier!r}", type=ErrorType.INVALID_INPUT)
        if change.tier == self._s.tier:
            raise ApplicationError(f"tenant is already on {change.tier}", type=ErrorType.CONFLICT)
        self._require("change tier", {"active"})

    @workflow.update
    async def delete(self, op: TenantOperation) -> TenantState:
        live = {"active", "suspended", "deleting", "failed"}
        await self._exclusive("deleting", live, lambda: self._delete(op))
        return self.state()

    @delete.validator
    def _validate_delete(self, op: TenantOperation) -> None:
        self._require("delete", {"active", "suspended", "deleting", "failed"})

    @workflow.update
    async def deploy_version(self, req: VersionDeploy) -> TenantDeployResult:
        """Deploys `req.tag` once per rollout; a repeated request gets the first answer."""
        done = self._s.rollouts.get(req.rollout_id)
        if done is None:
            await self._exclusive("deploying", {"active"}, lambda: self._deploy_version(req))
            done = self._s.rollouts[req.rollout_id]
        return done

    @deploy_version.validator
    def _validate_deploy_version(self, req: VersionDeploy) -> None:
        if req.rollout_id in self._s.rollouts:
            return
        if self._busy is not None:
            raise ApplicationError(f"tenant is busy ({self._busy})", type=ErrorType.TENANT_BUSY)
        self._require("deploy to", {"active"})

    @workflow.query
    def state(self) -> TenantState:
        s = self._s
        return TenantState(
            tenant_id=s.tenant_id,
            subdomain=s.subdomain,
            tier=s.tier,
            status=s.status,
            suspended_reason=s.suspended_reason,
            busy_with=self._busy,
            grace_until=s.grace_until,
            events=list(s.events),
            runs=s.runs,
        )

    # -- the run ----------------------------------------------------------------------
    @workflow.run
    async def run(self, inp: TenantInput) -> TenantState:
        workflow.upsert_search_attributes([SA_STAGE.value_set(self._s.status)])
        while self._s.status != "deleted":
            try:
                await workflow.wait_condition(
                    lambda: (
                        not self._lock.locked()
                        and (
                            self._s.status == "deleted"
                            or bool(self._inbox)
                            or self._grace_due()
                            or self._should_continue()
                        )
                    ),
                    timeout=self._until_next_grace_step(),
                )
            except TimeoutError:
                continue
            if self._s.status == "deleted":
                break
            if self._inbox or self._grace_due():
                async with self._lock:
                    self._busy = "billing"
                    try:
                        while self._inbox:
                            await self._handle_billing(self._inbox.pop(0))
                        if self._grace_due():
                            await self._grace_step()
                    finally:
                        self._busy = None
            if self._should_continue():
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() and not self._lock.locked()
                )
                next_run = self._s.model_copy(deep=True)
                next_run.pending = list(self._inbox)
                next_run.runs += 1
                workflow.continue_as_new(next_run)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    def _should_continue(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._s.max_history_length
        )

    # -- billing ----------------------------------------------------------------------
    async def _handle_billing(self, event: BillingEvent) -> None:
        self._s.events.append(event.event_id)
        await self._log(f"billing.{event.type}", event_id=event.event_id)
        if event.type in FAILED_EVENTS and self._s.status == "active" and not self._s.grace_until:
            self._s.grace_until = workflow.now() + timedelta(seconds=self._s.grace_seconds)
            self._s.grace_reminded = False
            await self._log("grace.started", until=self._s.grace_until.isoformat())
            await self._mail_customer(
                "Your payment failed",
                f"We could not charge your card. Please update your payment details before "
                f"{self._s.grace_until:%Y-%m-%d %H:%M} UTC to keep {self._s.fqdn} running.",
                f"grace-start-{event.event_id}",
            )
        elif event.type in PAID_EVENTS:
            if self._s.grace_until:
                self._s.grace_until = None
                await self._log("grace.ended", event_id=event.event_id)
            if self._s.status == "suspended" and self._s.suspended_reason == "payment":
                await self._unsuspend(TenantOperation(actor="billing", reason="payment received"))
        elif event.type == "customer.subscription.deleted" and self._s.status == "active":
            await self._suspend(
                TenantOperation(actor="billing", reason="subscription deleted"), "billing"
            )

    def _grace_due(self) -> bool:
        step = self._next_grace_step()
        return step is not None and workflow.now() >= step

    def _next_grace_step(self) -> datetime | None:
        until = self._s.grace_until
        if until is None:
            return None
        if not self._s.grace_reminded:
            lead = min(timedelta(days=1), timedelta(seconds=self._s.grace_seconds / 2))
            return until - lead
        return until

    def _until_next_grace_step(self) -> timedelta | None:
        step = self._next_grace_step()
        return None if step is None else max(step - workflow.now(), timedelta(milliseconds=1))

    async def _grace_step(self) -> None:
        assert self._s.grace_until is not None
        if not self._s.grace_reminded:
            self._s.grace_reminded = True
            await self._log("grace.reminder")
            await self._mail_customer(
                "Reminder: your payment is still due",
                f"{self._s.fqdn} will be suspended at {self._s.grace_until:%Y-%m-%d %H:%M} UTC "
                "unless the payment goes through.",
                f"grace-reminder-{self._s.tenant_id}-{self._s.grace_until.isoformat()}",
            )
            return
        self._s.grace_until = None
        await self._log("grace.expired")
        if self._s.status == "active":
            await self._suspend(
                TenantOperation(actor="billing", reason="payment overdue"), "payment"
            )

    # -- operations ---------------------------------------------------------------------
    def _require(self, what: str, allowed: set[str]) -> None:
        if self._busy is not None:
            raise ApplicationError(f"tenant is busy ({self._busy})", type=ErrorType.CONFLICT)
        if self._s.status not in allowed:
            raise ApplicationError(
                f"cannot {what} a tenant that is {self._s.status}", type=ErrorType.CONFLICT
            )

    async def _exclusive(
        self, busy: str, allowed: set[str], operation: Callable[[], Awaitable[None]]
    ) -> None:
        """One operation at a time; the state is checked again once it is this one's turn."""
        async with self._lock:
            if self._s.status not in allowed:
                raise ApplicationError(
                    f"tenant became {self._s.status} before this operation ran",
                    type=ErrorType.CONFLICT,
                )
            self._busy = busy
            try:
                await operation()
            finally:
                self._busy = None

    async def _suspend(self, op: TenantOperation, reason_kind: str) -> None:
        await self._stack("stop")
        self._s.suspended_reason = reason_kind
        await self._set_status("suspended", op, "tenant.suspend")

    async def _unsuspend(self, op: TenantOperation) -> None:
        await self._stack("start")
        await self._health_gate()
        self._s.suspended_reason = None
        await self._set_status("active", op, "tenant.unsuspend")

    async def _change_tier(self, change: TierChange) -> None:
        old, new = self._s.tier, change.tier
        self._s.tier_changes += 1
        assert self._s.server_name is not None
        try:
            await self._resize(new)
            await self._health_gate()
            if self._s.subscription_id:
                await step(
                    BillingActivities.change_subscription_price,
                    PriceChangeInput(
                        subscription_id=self._s.subscription_id,
                        tier=new,
                        idempotency_key=f"tenant-{self._s.tenant_id}:tier-change-"
                        f"{self._s.tier_changes}:{new}",
                    ),
                    limit=self._quick,
                    retry=STEP_RETRY,
                )
        except (ActivityError, ApplicationError) as err:
            # Back to the old size: the tenant stays wholly on its old tier.
            await self._log("tier.rollback", to=old, error=str(err.cause or err))
            await self._resize(old, retry=FOREVER)
            await self._health_gate()
            raise ApplicationError(
                f"tier change to {new} failed and was rolled back: {err.cause or err}",
                type="TierChangeFailed",
            ) from err
        self._s.tier = new
        await self._save_and_log("active", "tier.changed", old=old, new=new)
        await self._audit(change, "tenant.tier", {"old": old, "new": new})

    async def _deploy_version(self, req: VersionDeploy) -> None:
        """Deploy, gate on the new version; on failure back to the previous tag, gated too."""
        if req.rollout_id in self._s.rollouts:  # a duplicate that waited for the first
            return
        # What runs, not what the compose file says: a file retagged by a deploy that
        # never completed would otherwise pass for the running version.
        previous = (await self._stack("running")).strip() or None
        if previous is None:  # nothing runs: the file's tag is what start would bring back
            previous = (await self._stack("version")).strip() or None
        if previous == req.tag:
            status, reason = RolloutTenantStatus.ALREADY, None
            try:
                await self._health_gate(req.tag, req.health_budget_seconds)
            except ActivityError as err:
                status, reason = RolloutTenantStatus.FAILED, f"unhealthy: {err.cause or err}"
            await self._deployed(req, previous, previous, status, reason)
            return
        await self._log("rollout.deploy", rollout_id=req.rollout_id, old=previous, new=req.tag)
        try:
            # Pull first (slow, retried, heartbeating): until it succeeds nothing on the
            # server changed, so a pull that never succeeds needs no rollback.
            await self._stack("pull", req.tag, slow=True)
        except ActivityError as err:
            reason = f"pull of {req.tag} failed: {err.cause or err}"
            await self._deployed(req, previous, previous, RolloutTenantStatus.FAILED, reason)
            return
        try:
            await self._stack("deploy", req.tag, slow=True)
            await self._health_gate(req.tag, req.health_budget_seconds)
        except ActivityError as err:
            reason = f"health gate on {req.tag} failed: {err.cause or err}"
            await self._log("rollout.rollback", rollout_id=req.rollout_id, to=previous)
            if previous is None:
                await self._deployed(req, None, None, RolloutTenantStatus.ROLLBACK_FAILED, reason)
                return
            try:
                await self._stack("deploy", previous, slow=True)
                await self._health_gate(previous, req.health_budget_seconds)
            except ActivityError as again:
                reason += f"; rollback to {previous} failed: {again.cause or again}"
                status = RolloutTenantStatus.ROLLBACK_FAILED
                await self._deployed(req, previous, None, status, reason)
                return
            await self._deployed(req, previous, previous, RolloutTenantStatus.ROLLED_BACK, reason)
            return
        await self._deployed(req, previous, req.tag, RolloutTenantStatus.UPDATED, None)

    async def _deployed(
        self,
        req: VersionDeploy,
        previous: str | None,
        running: str | None,
        status: RolloutTenantStatus,
        reason: str | None,
    ) -> None:
        self._s.rollouts[req.rollout_id] = TenantDeployResult(
            tenant_id=self._s.tenant_id,
            status=status,
            from_version=previous,
            to_version=running,
            reason=reason,
        )
        while len(self._s.rollouts) > ROLLOUTS_REMEMBERED:
            self._s.rollouts.pop(next(iter(self._s.rollouts)))
        if running is not None:
            self._s.version = running
        await self._save_and_log(
            self._s.status, f"rollout.{status.value}", rollout_id=req.rollout_id, version=running
        )
        op = TenantOperation(actor=req.actor, reason=reason)
        details = {"rollout_id": req.rollout_id, "old": previous, "new": running}
        await self._audit(op, f"tenant.rollout.{status.value}", details)

    async def _delete(self, op: TenantOperation) -> None:
        await self._set_status("deleting", op, "tenant.delete.start")
        if self._s.subscription_id:
            await step(
                BillingActivities.cancel_subscription_if_present,
                SubscriptionRef(subscription_id=self._s.subscription_id),
                retry=FOREVER,
                limit=self._quick,
            )
        if self._s.fqdn and self._s.server_ip:
            await step(
                DnsActivities.delete_dns_record_if_present,
                DnsRecord(fqdn=self._s.fqdn, ipv4=self._s.server_ip),
                retry=FOREVER,
                heartbeat=HEARTBEAT,
                limit=PAGE_TIMEOUT,
            )
        if self._s.server_name:
            await step(
                HetznerActivities.delete_server_if_present,
                ServerRef(name=self._s.server_name),
                retry=FOREVER,
                heartbeat=HEARTBEAT,
                limit=PAGE_TIMEOUT,
            )
        await self._set_status("deleted", op, "tenant.delete.done")

    # -- steps ------------------------------------------------------------------------
    async def _stack(self, command: str, *args: str, slow: bool = False) -> str:
        """`slow`: a command that may pull an image (minutes), heartbeating meanwhile."""
        assert self._s.server_ip is not None
        out: str = await step(
            TenantStackActivities.run_stack_command,
            StackCommand(
                tenant_id=self._s.tenant_id,
                host=self._s.server_ip,
                command=command,
                args=list(args),
            ),
            limit=PAGE_TIMEOUT if slow else self._quick,
            heartbeat=HEARTBEAT if slow else None,
            retry=STEP_RETRY,
        )
        return out

    async def _resize(self, tier: str, retry: RetryPolicy = STEP_RETRY) -> None:
        assert self._s.server_name is not None
        info = await step(
            HetznerActivities.resize_server,
            ResizeInput(
                name=self._s.server_name,
                server_type=TENANT_PLANS[TenantTier(tier)].server_type,
            ),
            retry=retry,
            heartbeat=HEARTBEAT,
            limit=timedelta(minutes=20),
        )
        self._s.server_ip = info.ipv4

    async def _health_gate(self, version: str | None = None, seconds: float | None = None) -> None:
        assert self._s.server_ip is not None and self._s.fqdn is not None
        budget = timedelta(seconds=seconds or self._s.health_budget_seconds)
        await step(
            HealthActivities.wait_healthy,
            HealthGateInput(
                url=f"http://{self._s.server_ip}/health",
                host_header=self._s.fqdn,
                deadline=workflow.now() + budget,
                expect_version=version,
            ),
            heartbeat=HEARTBEAT,
            limit=budget + timedelta(minutes=2),
            retry=STEP_RETRY,
        )

    async def _set_status(self, status: str, op: TenantOperation, action: str) -> None:
        await self._save_and_log(status, action, actor=op.actor, reason=op.reason)
        await self._audit(op, action, {"reason": op.reason})

    async def _save_and_log(
        self, status: str, action: str, **details: str | int | float | bool | None
    ) -> None:
        """The tenant's row and the log entry that explains the change, in one write, so
        that nobody sees the new status without its reason."""
        change = TenantChange(tenant=self._record(status), event=self._event(action, **details))
        await step(RecordActivities.record_tenant_change, change, retry=FOREVER, limit=self._quick)

    def _record(self, status: str) -> TenantRecord:
        """The row as it is now, with `status`; also updates the search attribute."""
        self._s.status = status
        workflow.upsert_search_attributes([SA_STAGE.value_set(status)])
        s = self._s
        return TenantRecord(
            tenant_id=s.tenant_id,
            signup_id=s.signup_id,
            subdomain=s.subdomain,
            tier=s.tier,
            status=status,
            server_ip=s.server_ip,
            version=s.version,
        )

    async def _log(self, action: str, **details: str | int | float | bool | None) -> None:
        await step(
            RecordActivities.log_provisioning,
            self._event(action, **details),
            retry=FOREVER,
            limit=self._quick,
        )

    def _event(self, action: str, **details: str | int | float | bool | None) -> ProvisioningEvent:
        return ProvisioningEvent(action=action, tenant_id=self._s.tenant_id, details=details)

    async def _audit(self, op: TenantOperation, action: str, details: dict[str, Any]) -> None:
        await step(
            RecordActivities.audit,
            AuditEvent(
                actor=op.actor, action=action, target=f"tenant:{self._s.tenant_id}", details=details
            ),
            retry=FOREVER,
            limit=self._quick,
        )

    async def _mail_customer(self, subject: str, body: str, dedupe_key: str) -> None:
        if not self._s.email:
            return
        await step(
            MailActivities.send_email,
            EmailMessage(to=self._s.email, subject=subject, body=body, dedupe_key=dedupe_key),
            limit=self._quick,
            retry=STEP_RETRY,
        )
