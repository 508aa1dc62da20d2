"""Names and typed messages shared by api/, workflows/ and activities/.

Every workflow and activity takes one model and returns one model, so fields can be
added compatibly. Task queues, workflow IDs, search attributes and error type names live
here too, so that the API that starts a workflow and the worker that runs it can never
disagree on a name.
"""

from __future__ import annotations

import enum
import re
from datetime import datetime

from pydantic import BaseModel, Field
from temporalio.common import SearchAttributeKey

from tenantry.credits_contracts import CreditsDepleted

# --- task queues -------------------------------------------------------------------
DEFAULT_TASK_QUEUE = "tenantry"

# --- search attributes (Keyword; never an email or secret) ---------------------------
SA_TENANT_ID = SearchAttributeKey.for_keyword("TenantId")
SA_SUBDOMAIN = SearchAttributeKey.for_keyword("Subdomain")
SA_POD_ID = SearchAttributeKey.for_keyword("PodId")
SA_ACCOUNT_ID = SearchAttributeKey.for_keyword("AccountId")
SA_STAGE = SearchAttributeKey.for_keyword("Stage")
SEARCH_ATTRIBUTES = (SA_TENANT_ID, SA_SUBDOMAIN, SA_POD_ID, SA_ACCOUNT_ID, SA_STAGE)


# --- workflow IDs from business identity --------------------------------------------
def signup_workflow_id(subdomain: str) -> str:
    return f"signup-{subdomain}"


def tenant_workflow_id(tenant_id: str) -> str:
    return f"tenant-{tenant_id}"


def pod_workflow_id(pod_id: str) -> str:
    return f"pod-{pod_id}"


def rollout_workflow_id(rollout_id: str) -> str:
    return f"rollout-{rollout_id}"


METERING_SCHEDULE_ID = "metering-hourly"
HEALTH_SWEEP_SCHEDULE_ID = "health-sweep"


class ErrorType:
    """`ApplicationError.type` names: retry policies list the non-retryable ones by name."""

    INVALID_INPUT = "InvalidInput"
    NOT_FOUND = "NotFound"
    CONFLICT = "Conflict"
    PAYMENT_DECLINED = "PaymentDeclined"
    PROVIDER_REJECTED = "ProviderRejected"
    QUOTA_EXCEEDED = "QuotaExceeded"
    HEALTH_GATE_TIMEOUT = "HealthGateTimeout"
    HOST_KEY_MISMATCH = "HostKeyMismatch"
    SNAPSHOT_CORRUPT = "SnapshotCorrupt"
    TENANT_BUSY = "TenantBusy"  # another operation runs on the tenant: retry later

    NON_RETRYABLE: tuple[str, ...] = (
        INVALID_INPUT,
        NOT_FOUND,
        CONFLICT,
        PAYMENT_DECLINED,
        PROVIDER_REJECTED,
        QUOTA_EXCEEDED,
        HOST_KEY_MISMATCH,
        SNAPSHOT_CORRUPT,
    )


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


# --- tenant lifecycle ------------------------------------------------------------------
class ResizeInput(BaseModel):
    name: str
    server_type: str


class PriceChangeInput(BaseModel):
    subscription_id: str
    tier: str
    idempotency_key: str


class StackCommand(BaseModel):
    """`tenantry-stack <command> [args]` on a tenant server, over SSH with its pinned host
    key: start, stop, status, restart, version, deploy <tag>."""

    tenant_id: str
    host: str
    command: str
    args: list[str] = Field(default_factory=list)


# --- metering (issue 7) ------------------------------------------------------------------
def metering_workflow_id(hour: datetime) -> str:
    return f"metering-{hour:%Y-%m-%dT%H}"


class MeteringInput(BaseModel):
    """Meter one closed UTC hour; `None` means the hour before the schedule's fire time.

    `catch_up` also meters earlier hours not yet metered (after the last metered one,
    at most `catch_up_hours` back), so an outage's hours are billed by the next run.
    """

    hour: datetime | None = None
    catch_up: bool = True
    catch_up_hours: int = 7 * 24
    page_size: int = 500
    report_batch: int = 5000


class MeteringResult(BaseModel):
    hours: list[datetime] = Field(default_factory=list)
    inserted: int = 0
    reported: int = 0


class HoursToMeter(BaseModel):
    target: datetime
    catch_up: bool = True
    catch_up_hours: int = 7 * 24


class HoursList(BaseModel):
    hours: list[datetime] = Field(default_factory=list)


class MeterPageInput(BaseModel):
    hour: datetime
    after_billed_account: str | None = None
    limit: int = 500


class MeterPageResult(BaseModel):
    lines: int = 0
    inserted: int = 0
    next_after: str | None = None
    depleted: list[CreditsDepleted] = Field(
        default_factory=list, description="prepaid accounts of the page at or below zero"
    )


class ReportUsageInput(BaseModel):
    hour: datetime
    limit: int = 1000
    full_batches_only: bool = Field(
        default=False,
        description="send only whole requests of 100 events (more records are on their way)",
    )


class ReportUsageResult(BaseModel):
    reported: int = 0
    remaining: bool = False


class MeteredHour(BaseModel):
    hour: datetime
    records: int = 0


# --- rollouts and the health sweep ---------------------------------------------------------
# An image tag as Docker accepts it; the only thing a rollout sends to a server's shell.
IMAGE_TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"


def valid_image_tag(tag: str) -> bool:
    return re.fullmatch(IMAGE_TAG_PATTERN, tag) is not None


class RolloutStatus(enum.StrEnum):
    """A rollout's status; `halting` and `cancelling` wait for tenants in flight."""

    RUNNING = "running"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    HALTING = "halting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ROLLOUT_FINAL = frozenset({RolloutStatus.COMPLETED, RolloutStatus.FAILED, RolloutStatus.CANCELLED})


class RolloutTenantStatus(enum.StrEnum):
    """What a rollout did to one tenant."""

    PENDING = "pending"
    UPDATED = "updated"  # deployed and passed its health gate on the new tag
    ALREADY = "already"  # was on the tag already (and healthy): nothing deployed
    ROLLED_BACK = "rolled_back"  # failed its health gate; back on its previous tag
    ROLLBACK_FAILED = "rollback_failed"  # failed, and not healthy on its previous tag either
    FAILED = "failed"  # on the tag already but unhealthy, or the step itself failed
    SKIPPED = "skipped"  # not active (suspended, provisioning, ...) when it came up
    NOT_STARTED = "not_started"  # the rollout stopped (halted or cancelled) before it


ROLLOUT_TENANT_BAD = frozenset(
    {
        RolloutTenantStatus.ROLLED_BACK,
        RolloutTenantStatus.ROLLBACK_FAILED,
        RolloutTenantStatus.FAILED,
    }
)


class RolloutInput(BaseModel):
    """A rollout's whole state: what a run starts with and continues-as-new with."""

    rollout_id: str
    tag: str
    parallelism: int = 1
    canary: int = 1
    health_budget_seconds: float = 120
    step_timeout_seconds: float = 30
    page_size: int = 100
    max_history_length: int = 10_000
    # carried across continue-as-new
    prepared: bool = False
    phase: str = "canary"
    after_tenant_id: str | None = None
    launched: int = 0
    done: int = 0
    paused: bool = False
    cancel_requested: bool = False
    halted: bool = False
    error: str | None = None
    runs: int = 1


class RolloutState(BaseModel):
    """What the `state` query and the pause/resume/cancel updates answer."""

    rollout_id: str
    tag: str
    status: RolloutStatus
    phase: str
    launched: int
    done: int
    in_flight: int
    error: str | None = None
    runs: int = 1


class RolloutControl(BaseModel):
    actor: str = "admin"
    reason: str | None = None


class RolloutRef(BaseModel):
    rollout_id: str


class RolloutPrepared(BaseModel):
    targets: int
    skipped: int


class RolloutTargetsInput(BaseModel):
    rollout_id: str
    after_tenant_id: str | None = None
    limit: int = 100


class RolloutTargets(BaseModel):
    """Pending tenants of a rollout, by tenant id after the cursor."""

    tenant_ids: list[str] = Field(default_factory=list)


class RolloutStatusRecord(BaseModel):
    rollout_id: str
    status: RolloutStatus
    phase: str
    error: str | None = None


class TenantDeployInput(BaseModel):
    """One tenant's step of a rollout (the rollout's activity asks the tenant's workflow)."""

    rollout_id: str
    tenant_id: str
    tag: str
    health_budget_seconds: float = 120


class VersionDeploy(BaseModel):
    """The `deploy_version` update of a TenantWorkflow: at most one deploy per rollout."""

    rollout_id: str
    tag: str
    health_budget_seconds: float = 120
    actor: str = "rollout"


class TenantDeployResult(BaseModel):
    tenant_id: str
    status: RolloutTenantStatus
    from_version: str | None = None
    to_version: str | None = None
    reason: str | None = None


class HealthSweepInput(BaseModel):
    page_size: int = 200
    concurrency: int = 20
    timeout_seconds: float = 5


class HealthSweepPageInput(BaseModel):
    after_tenant_id: str | None = None
    limit: int = 200
    concurrency: int = 20
    timeout_seconds: float = 5


class HealthSweepPage(BaseModel):
    checked: int = 0
    healthy: int = 0
    unhealthy: list[str] = Field(default_factory=list, description="subdomains")
    next_after: str | None = None


class StaleHosts(BaseModel):
    names: list[str] = Field(default_factory=list)


class HealthSweepResult(BaseModel):
    """A sweep's outcome, the workflow's result in the Temporal UI (names are bounded)."""

    checked: int = 0
    healthy: int = 0
    unhealthy_count: int = 0
    unhealthy: list[str] = Field(default_factory=list, description="subdomains, first 100")
    stale_hosts: list[str] = Field(default_factory=list)
