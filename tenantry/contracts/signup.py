"""Typed messages of signup-to-active: one model in and one out for every workflow and
activity, so fields can be added compatibly."""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, Field


# --- signup-to-active ------------------------------------------------------------------
class SignupStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    AWAITING_APPROVAL = "awaiting_approval"
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    FAILED = "failed"
    EXPIRED = "expired"
    REJECTED = "rejected"


class Stage(enum.StrEnum):
    """Where a signup is; the `Stage` search attribute and the provisioning log use it."""

    CHECKOUT = "checkout"
    AWAITING_PAYMENT = "awaiting_payment"
    AWAITING_APPROVAL = "awaiting_approval"
    SECRETS = "secrets"
    SERVER = "server"
    DNS = "dns"
    HEALTH = "health"
    WELCOME = "welcome"
    ACTIVE = "active"
    COMPENSATING = "compensating"
    FAILED = "failed"
    EXPIRED = "expired"


class SignupInput(BaseModel):
    signup_id: str
    subdomain: str
    email: str
    tier: str
    status_token_hash: str
    base_domain: str
    admin_email: str
    approval_mode: str = "auto"
    checkout_expiry_seconds: float = 24 * 3600
    health_budget_seconds: float = 600
    step_timeout_seconds: float = 30
    cancel_subscription_on_failure: bool = True
    payment_grace_seconds: float = 7 * 24 * 3600
    tenant_history_limit: int = 10_000
    # A payment completed before the window closed whose webhook is late: provision it,
    # or cancel and refund it.
    late_payment: str = "provision"
    # Set when the warm pool of this tier at this location has a size: claim a booted
    # server from it first (an empty pool: create one, as without a pool).
    pool_location: str | None = None


class CheckoutRequest(BaseModel):
    """The update that joins (or starts) a signup and waits for its checkout URL."""

    signup_id: str
    email: str
    tier: str


class SignupAccepted(BaseModel):
    signup_id: str
    status: SignupStatus
    checkout_url: str | None


class PaymentReceived(BaseModel):
    """Signal from the verified `checkout.session.completed` webhook."""

    event_id: str
    checkout_session_id: str
    customer_id: str | None = None
    subscription_id: str | None = None


class ApprovalDecision(BaseModel):
    approved: bool
    actor: str = "admin"
    reason: str | None = None


class SignupState(BaseModel):
    """What the `state` query answers."""

    signup_id: str
    subdomain: str
    status: SignupStatus
    stage: Stage
    tenant_id: str | None = None
    checkout_url: str | None = None
    error: str | None = None


# Stripe
class CreateCustomerInput(BaseModel):
    idempotency_key: str
    email: str
    signup_id: str
    subdomain: str


class CustomerRef(BaseModel):
    customer_id: str


class CheckoutSessionInput(BaseModel):
    idempotency_key: str
    customer_id: str
    signup_id: str
    subdomain: str
    tier: str
    expires_at: datetime


class CheckoutSessionRef(BaseModel):
    session_id: str
    url: str


class CheckoutClosed(BaseModel):
    """How a Checkout session ended when its window closed: paid (its webhook may still
    be on its way) or expired by us."""

    paid: bool
    customer_id: str | None = None
    subscription_id: str | None = None


class SubscriptionRef(BaseModel):
    subscription_id: str
    idempotency_key: str | None = None


# Hetzner
class ServerSpec(BaseModel):
    name: str
    tenant_id: str
    subdomain: str
    server_type: str
    labels: dict[str, str] = Field(default_factory=dict)


class ServerInfo(BaseModel):
    server_id: int
    name: str
    ipv4: str
    status: str
    adopted: bool = False


class ServerRef(BaseModel):
    name: str


# DNS
class DnsRecord(BaseModel):
    fqdn: str
    ipv4: str
    ttl: int = 60


# Health
class HealthGateInput(BaseModel):
    """Poll until healthy or `deadline`: an absolute time, so retries share one budget."""

    url: str
    host_header: str
    deadline: datetime
    ssh_host: str | None = None
    ssh_host_public_key: str | None = None
    expect_version: str | None = Field(
        default=None, description="healthy only once `/health` reports this image tag"
    )


# Mail
class EmailMessage(BaseModel):
    to: str
    subject: str
    body: str
    dedupe_key: str | None = Field(
        default=None, description="sent at most once per key (a retry never mails twice)"
    )


# Records (the database, written by activities)
class SignupRecord(BaseModel):
    """A signup's row; every field but the identity is optional so steps update theirs."""

    signup_id: str
    subdomain: str
    email: str
    tier: str
    status_token_hash: str
    status: SignupStatus
    step: Stage
    error: str | None = None
    stripe_customer_id: str | None = None
    stripe_checkout_session_id: str | None = None
    stripe_subscription_id: str | None = None
    tenant_id: str | None = None


class ProvisioningEvent(BaseModel):
    action: str
    signup_id: str | None = None
    tenant_id: str | None = None
    details: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class TenantRecord(BaseModel):
    tenant_id: str
    signup_id: str
    subdomain: str
    tier: str
    status: str
    email: str | None = None
    server_id: int | None = None
    server_name: str | None = None
    server_ip: str | None = None
    dns_record: str | None = None
    stripe_customer_id: str | None = None
    stripe_subscription_id: str | None = None
    version: str | None = None


class SignupProgress(BaseModel):
    """What a signup wrote since its last stage change, and the new stage: one write."""

    tenants: list[TenantRecord] = Field(default_factory=list)
    events: list[ProvisioningEvent] = Field(default_factory=list)
    signup: SignupRecord


class TenantChange(BaseModel):
    """A tenant's row after a change, and the provisioning-log entry that explains it."""

    tenant: TenantRecord
    event: ProvisioningEvent


class TenantKeys(BaseModel):
    """The public half of what `ensure_tenant_secrets` made; secrets stay in the database."""

    tenant_id: str
    ssh_host_public_key: str


class AuditEvent(BaseModel):
    actor: str
    action: str
    target: str | None = None
    details: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class EnsureSubscriptionInput(BaseModel):
    """Keeps a paid signup's subscription active; a cancelled one (an earlier failed
    attempt compensated) is replaced once, keyed by the one it replaces."""

    subscription_id: str
    customer_id: str
    tier: str
    signup_id: str
    subdomain: str


class RefundInput(BaseModel):
    """Refund a subscription's latest paid invoice, once (`idempotency_key` from the
    workflow: `{workflow_id}:refund`)."""

    subscription_id: str
    idempotency_key: str


class RefundResult(BaseModel):
    """The refund made (or found made earlier); no `refund_id` when nothing was paid."""

    refund_id: str | None = None
    amount: int = 0
    currency: str | None = None
    payment_intent_id: str | None = None
