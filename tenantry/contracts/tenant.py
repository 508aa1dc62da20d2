"""Typed messages of the tenant lifecycle (`TenantWorkflow`): its state, operations,
billing events and the stack commands sent to a tenant server."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from tenantry.contracts.rollout import TenantDeployResult


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
    key: start, stop, status, restart, version, running, pull <tag>, deploy <tag>."""

    tenant_id: str
    host: str
    command: str
    args: list[str] = Field(default_factory=list)


class BillingEvent(BaseModel):
    event_id: str
    type: str
    invoice_id: str | None = None
    subscription_id: str | None = None


class TenantOperation(BaseModel):
    actor: str = "admin"
    reason: str | None = None


class TierChange(TenantOperation):
    tier: str


class TenantInput(BaseModel):
    """The tenant's whole state: what a run starts with and continues-as-new with."""

    tenant_id: str
    subdomain: str
    tier: str
    signup_id: str = ""
    status: str = "active"
    suspended_reason: str | None = None
    server_name: str | None = None
    server_ip: str | None = None
    fqdn: str | None = None
    subscription_id: str | None = None
    email: str | None = None
    admin_email: str | None = None
    events: list[str] = Field(default_factory=list, description="billing events handled")
    pending: list[BillingEvent] = Field(default_factory=list)
    grace_until: datetime | None = None
    grace_reminded: bool = False
    grace_seconds: float = 7 * 24 * 3600
    health_budget_seconds: float = 600
    step_timeout_seconds: float = 30
    tier_changes: int = 0
    max_history_length: int = 10_000
    runs: int = 1
    version: str | None = None
    rollouts: dict[str, TenantDeployResult] = Field(
        default_factory=dict, description="the latest rollouts' outcomes, by rollout id"
    )


class TenantState(BaseModel):
    tenant_id: str
    subdomain: str
    tier: str
    status: str
    suspended_reason: str | None
    busy_with: str | None
    grace_until: datetime | None
    events: list[str]
    runs: int
