"""Names every layer must agree on: task queues, workflow and schedule IDs, search
attributes, and the `ApplicationError.type` names that retry policies list.

The API that starts a workflow and the worker that runs it import these from here, so
they can never disagree on a name.
"""

from __future__ import annotations

from datetime import datetime

from temporalio.common import SearchAttributeKey

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


def metering_workflow_id(hour: datetime) -> str:
    return f"metering-{hour:%Y-%m-%dT%H}"


def credits_workflow_id(account_id: str) -> str:
    return f"credits-{account_id}"


def account_billing_workflow_id(account_id: str) -> str:
    return f"account-billing-{account_id}"


class PodErrorType:
    """`ApplicationError.type` names of the pod layer (beside `contracts.ErrorType`)."""

    NO_HOST_AVAILABLE = "NoHostAvailable"
    CONFLICT = "Conflict"
    SNAPSHOT_CORRUPT = "SnapshotCorrupt"
    # The lower layer's non-retryable `PodHostError` types, by name.
    NON_RETRYABLE: tuple[str, ...] = (
        "InvalidInput",
        "NotFound",
        "Conflict",
        "HostKeyMismatch",
        "HostAuthFailed",
        "ContainerNotFound",
        "PodConflict",
        "RuntimeUnavailable",
        "SnapshotNotFound",
        "SnapshotCorrupt",
    )


def server_pool_workflow_id(tier: str, location: str) -> str:
    return f"server-pool-{tier}-{location}"
