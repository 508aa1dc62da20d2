"""Routes verified Stripe events to the workflows they concern.

Shared by the webhook endpoint and the recovery of missed deliveries, so both have the
same effect: a signal that the receiving workflow deduplicates by event id, recorded in
`processed_webhook_events` in the same transaction (a failed signal rolls the claim back
and Stripe's redelivery tries again).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from db.repo.account_billing import account_customer, account_for_subscription
from db.repo.signups import signup_status_for_checkout
from db.repo.tenants import tenant_for_billing
from db.repo.webhooks import claim_webhook_event
from tenantry.contracts.billing import (
    AccountBillingInput,
    AccountBillingStage,
    CardAdded,
    InvoiceEvent,
)
from tenantry.contracts.common import (
    SA_ACCOUNT_ID,
    SA_STAGE,
    account_billing_workflow_id,
    signup_workflow_id,
    tenant_workflow_id,
)
from tenantry.contracts.signup import PaymentReceived
from tenantry.contracts.tenant import BillingEvent
from tenantry.settings import CoreSettings
from workflows.account_billing import AccountBillingWorkflow
from workflows.signup import SignupWorkflow
from workflows.tenant import TenantWorkflow

log = logging.getLogger("tenantry.webhooks")

TENANT_EVENTS = frozenset(
    {
        "invoice.payment_failed",
        "invoice.payment_succeeded",
        "invoice.paid",
        "customer.subscription.deleted",
    }
)


ACCOUNT_INVOICE_EVENTS = frozenset({"invoice.payment_failed", "invoice.paid"})


async def handle_event(
    event: dict[str, Any], *, session: AsyncSession, temporal: Client, settings: CoreSettings
) -> str:
    """Applies one event at most once; returns what happened ("duplicate", "routed", ...)."""
    event_id, event_type = str(event["id"]), str(event["type"])
    if not await claim_webhook_event(session, event_id, event_type):
        return "duplicate"
    obj: dict[str, Any] = event.get("data", {}).get("object", {}) or {}
    account_id = await _billed_account(event_type, obj, session)
    if account_id is not None:
        outcome = await _account_billing(event_id, event_type, obj, account_id, temporal, settings)
    elif event_type == "checkout.session.completed":
        outcome = await _checkout_completed(event_id, obj, session, temporal)
    elif event_type in TENANT_EVENTS:
        outcome = await _tenant_billing(event_id, event_type, obj, session, temporal)
    else:
        outcome = "ignored"
    await session.commit()
    log.info("stripe event %s (%s): %s", event_id, event_type, outcome)
    return outcome


async def _billed_account(
    event_type: str, obj: dict[str, Any], session: AsyncSession
) -> str | None:
    """The account a card setup or a pod usage invoice is for, or None (not an account's).

    A setup-mode Checkout names its account in metadata, and must be for that account's
    own customer; an invoice is an account's when its subscription is.
    """
    if event_type == "checkout.session.completed" and obj.get("mode") == "setup":
        account = str((obj.get("metadata") or {}).get("account_id") or "")
        try:
            customer = await account_customer(session, uuid.UUID(account))
        except ValueError:
            return None
        return account if customer and customer == _id(obj.get("customer")) else None
    if event_type in ACCOUNT_INVOICE_EVENTS:
        subscription = _id(obj.get("subscription")) or _id(
            ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription")
        )
        if subscription:
            found = await account_for_subscription(session, subscription)
            return str(found) if found else None
    return None


async def _account_billing(
    event_id: str,
    event_type: str,
    obj: dict[str, Any],
    account_id: str,
    temporal: Client,
    settings: CoreSettings,
) -> str:
    """Signal-with-start `account-billing-{account_id}`: one workflow per account."""
    if event_type == "checkout.session.completed":
        signal: Any = AccountBillingWorkflow.card_added
        arg: CardAdded | InvoiceEvent = CardAdded(
            event_id=event_id, checkout_session_id=str(obj["id"])
        )
    else:
        signal = AccountBillingWorkflow.invoice_event
        arg = InvoiceEvent(event_id=event_id, type=event_type, invoice_id=_id(obj.get("id")))
    await temporal.start_workflow(
        AccountBillingWorkflow.run,
        AccountBillingInput(
            account_id=account_id, grace_seconds=settings.account_payment_grace.total_seconds()
        ),
        id=account_billing_workflow_id(account_id),
        task_queue=settings.task_queue,
        # The SDK takes a signal-with-start's signal by name only; the name comes from
        # the handler, so a rename is still an error here.
        start_signal=signal.__name__,
        start_signal_args=[arg],
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(SA_ACCOUNT_ID, account_id),
                SearchAttributePair(SA_STAGE, AccountBillingStage.WAITING.value),
            ]
        ),
    )
    return "routed"


async def _checkout_completed(
    event_id: str, obj: dict[str, Any], session: AsyncSession, temporal: Client
) -> str:
    subdomain = (obj.get("metadata") or {}).get("subdomain")
    if not subdomain:
        return "ignored: not a Tenantry checkout"
    handle = temporal.get_workflow_handle(signup_workflow_id(subdomain))
    payment = PaymentReceived(
        event_id=event_id,
        checkout_session_id=str(obj["id"]),
        customer_id=_id(obj.get("customer")),
        subscription_id=_id(obj.get("subscription")),
    )
    outcome = await _signal(handle.signal(SignupWorkflow.payment_completed, payment))
    if outcome == "routed":
        return outcome
    # The signup's workflow has ended. When its Checkout window closed it read the
    # session itself (a paid one was honoured), so this is normally a late duplicate; a
    # payment for a signup that ended otherwise is a customer charged for nothing.
    status = await signup_status_for_checkout(session, payment.checkout_session_id)
    if status in ("active", "provisioning", "paid", "awaiting_approval"):
        return f"ignored: signup already {status}"
    log.error(
        "checkout %s for %s was paid but its signup is %s: refund or repair it",
        payment.checkout_session_id,
        subdomain,
        status or "unknown",
    )
    return f"unmatched: paid checkout for a signup that is {status or 'unknown'}"


async def _tenant_billing(
    event_id: str, event_type: str, obj: dict[str, Any], session: AsyncSession, temporal: Client
) -> str:
    subscription = (
        obj["id"] if event_type.startswith("customer.subscription") else obj.get("subscription")
    )
    subscription_id, customer_id = _id(subscription), _id(obj.get("customer"))
    if not subscription_id and not customer_id:
        return "ignored: no subscription or customer"
    found = await tenant_for_billing(session, subscription_id, customer_id)
    if found is None:
        return "ignored: no tenant"
    tenant_id, current = found
    if subscription_id and subscription_id != current:
        # A replaced subscription's late events (its deletion above all) must not act
        # on the tenant, which pays on its current one.
        return "ignored: not the tenant's current subscription"
    handle = temporal.get_workflow_handle(tenant_workflow_id(str(tenant_id)))
    event = BillingEvent(
        event_id=event_id,
        type=event_type,
        invoice_id=_id(obj.get("id")) if event_type.startswith("invoice.") else None,
        subscription_id=subscription_id,
    )
    return await _signal(handle.signal(TenantWorkflow.billing_event, event))


async def _signal(call: Any) -> str:
    try:
        await call
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return "ignored: workflow not running"
        raise
    return "routed"


def _id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return str(value.get("id")) if value.get("id") else None
    return str(value)
