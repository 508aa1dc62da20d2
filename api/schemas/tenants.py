"""Tenants (admin): the list, the detail with its provisioning log, and operations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.schemas.health import TenantHealthView
from db.models import ProvisioningLogEntry, Tenant
from tenantry.rules.plans import TenantTier


class LogEntry(BaseModel):
    action: str
    details: dict[str, Any]
    at: datetime


class TenantView(BaseModel):
    tenant_id: str
    subdomain: str
    tier: str
    status: str
    server_id: int | None
    server_ip: str | None
    dns_record: str | None
    stripe_subscription_id: str | None
    version: str | None = Field(default=None, description="the image tag its stack runs")
    created_at: datetime


class TenantDetail(TenantView):
    provisioning_log: list[LogEntry]
    health: TenantHealthView | None = Field(
        default=None, description="the health sweep's latest check"
    )


class OperationBody(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"reason": "abuse report #1234"}]}}

    reason: str | None = None


class TierBody(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [{"tier": "pro", "reason": "customer asked for more capacity"}]
        }
    }

    tier: TenantTier
    reason: str | None = None


def tenant_view(t: Tenant) -> TenantView:
    return TenantView(
        tenant_id=str(t.id),
        subdomain=t.subdomain,
        tier=t.tier,
        status=t.status,
        server_id=t.server_id,
        server_ip=t.server_ip,
        dns_record=t.dns_record,
        stripe_subscription_id=t.stripe_subscription_id,
        version=t.version,
        created_at=t.created_at,
    )


def log_entry(e: ProvisioningLogEntry) -> LogEntry:
    return LogEntry(action=e.action, details=e.details, at=e.at)


class OperationPending(BaseModel):
    """An operation that did not finish within the wait: it goes on in the tenant's workflow."""

    tenant_id: str
    status: str = Field(examples=["in_progress"])
    operation: str = Field(description="the workflow update's id")
