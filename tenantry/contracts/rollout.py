"""Typed messages of fleet rollouts and the health sweep."""

from __future__ import annotations

import enum
import re

from pydantic import BaseModel, Field

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
