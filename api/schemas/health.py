"""Tenant health: the health sweep's latest check of a tenant, as admins see it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from db.models import Tenant, TenantHealth


class TenantHealthView(BaseModel):
    tenant_id: str
    subdomain: str
    tenant_status: str
    healthy: bool
    expected: bool
    status_code: int | None
    detail: str | None
    version: str | None
    checked_at: datetime


def health_view(h: TenantHealth, tenant: Tenant) -> TenantHealthView:
    return TenantHealthView(
        tenant_id=str(h.tenant_id),
        subdomain=tenant.subdomain,
        tenant_status=tenant.status,
        healthy=h.healthy,
        expected=h.expected,
        status_code=h.status_code,
        detail=h.detail,
        version=h.version,
        checked_at=h.checked_at,
    )


class Alive(BaseModel):
    """`/healthz`: the process is up."""

    status: str = Field(examples=["ok"])


class Ready(BaseModel):
    """`/readyz` when every dependency answers (503 with the error body otherwise)."""

    status: str = Field(examples=["ready"])
    checks: dict[str, str] = Field(examples=[{"database": "ok", "temporal": "ok"}])
