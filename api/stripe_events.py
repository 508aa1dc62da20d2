"""Routes verified Stripe events to the workflows they concern.

Shared by the webhook endpoint and the recovery of missed deliveries, so both have the
same effect: a signal that the receiving workflow deduplicates by event id, recorded in
`processed_webhook_events` in the same transaction (a failed signal rolls the claim back
and Stripe's redelivery tries again).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from db.repo.signups import signup_status_for_checkout
from db.repo.tenants import tenant_for_billing
from db.repo.webhooks import claim_webhook_event
from tenantry.contracts.common import signup_workflow_id, tenant_workflow_id
from tenantry.contracts.signup import PaymentReceived
from tenantry.contracts.tenant import BillingEvent
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


async def handle_event(event: dict[str, Any], *, session: AsyncSession, temporal: Client) -> str:
    """Applies one event at most once; returns what happened ("duplicate", "routed", ...)."""
    event_id, event_type = str(event["id"]), str(event["type"])
    if not await claim_webhook_event(session, event_id, event_type):
        return "duplicate"
    obj: dict[str, Any] = event.get("data", {}).get("object", {}) or {}
    if event_type == "checkout.session.completed":
        outcome = await _checkout_completed(event_id, obj, session, temporal)
    elif event_type in TENANT_EVENTS:
        outcome = await _tenant_billing(event_id, event_type, obj, session, temporal)
    else:
        outcome = "ignored"
    await session.commit()
    log.info("stripe event %s (%s): %s", event_id, event_type, outcome)
    return outcome


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
