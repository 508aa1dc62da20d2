"""Every table of the schema; importing this module registers them all on `Base.metadata`."""

from db.base import Base
from db.models.accounts import Account, AccountVerification, ApiKey, TeamInvite
from db.models.audit import AuditLogEntry
from db.models.billing import CreditEntry, MeteringRun, ProcessedWebhookEvent, UsageRecord
from db.models.idempotency import IdempotencyKey
from db.models.pods import Host, HostJoinToken, Pod, PodEvent, Snapshot
from db.models.pool import PoolClaim, PoolServer
from db.models.rollouts import Rollout, RolloutTenant, TenantHealth
from db.models.tenants import ProvisioningLogEntry, Signup, Tenant

__all__ = [
    "Account",
    "AccountVerification",
    "ApiKey",
    "AuditLogEntry",
    "Base",
    "CreditEntry",
    "Host",
    "HostJoinToken",
    "IdempotencyKey",
    "MeteringRun",
    "Pod",
    "PodEvent",
    "PoolClaim",
    "PoolServer",
    "ProcessedWebhookEvent",
    "ProvisioningLogEntry",
    "Rollout",
    "RolloutTenant",
    "Signup",
    "Snapshot",
    "TeamInvite",
    "Tenant",
    "TenantHealth",
    "UsageRecord",
]
