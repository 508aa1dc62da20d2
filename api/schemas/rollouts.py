"""Fleet rollouts (admin): starting one, controlling it, and what it did."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.schemas.types import Whole
from db.models import Rollout, RolloutTenant
from db.repo.rollouts import TENANTS_SHOWN


class RolloutCreate(BaseModel):
    model_config = {
        "json_schema_extra": {"examples": [{"tag": "2026.12.1", "parallelism": 2, "canary": 1}]}
    }

    tag: str = Field(description="the image tag to run on every active tenant")
    parallelism: Whole = Field(default=1, ge=1, le=100, description="tenants at a time")
    canary: Whole = Field(
        default=1, ge=0, le=1000, description="tenants that must pass before the rest start"
    )


class RolloutOperation(BaseModel):
    model_config = {
        "json_schema_extra": {"examples": [{"reason": "error rate up after the canary"}]}
    }

    reason: str | None = None


class RolloutTenantView(BaseModel):
    tenant_id: str
    subdomain: str
    status: str
    from_version: str | None
    to_version: str | None
    reason: str | None
    updated_at: datetime


class RolloutView(BaseModel):
    rollout_id: str
    tag: str
    parallelism: int
    canary: int
    status: str
    phase: str
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class RolloutDetail(RolloutView):
    counts: dict[str, int] = Field(description="tenants by status, and `total`")
    tenants: list[RolloutTenantView] = Field(description=f"the first {TENANTS_SHOWN}, by subdomain")


def rollout_view(r: Rollout) -> RolloutView:
    return RolloutView(
        rollout_id=str(r.id),
        tag=r.tag,
        parallelism=r.parallelism,
        canary=r.canary,
        status=r.status,
        phase=r.phase,
        error=r.error,
        created_at=r.created_at,
        updated_at=r.updated_at,
        finished_at=r.finished_at,
    )


def rollout_tenant_view(t: RolloutTenant) -> RolloutTenantView:
    return RolloutTenantView(
        tenant_id=str(t.tenant_id),
        subdomain=t.subdomain,
        status=t.status,
        from_version=t.from_version,
        to_version=t.to_version,
        reason=t.reason,
        updated_at=t.updated_at,
    )
