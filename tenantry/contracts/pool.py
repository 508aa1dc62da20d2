"""Messages of the warm pool of tenant servers (`ServerPoolWorkflow`, the claim steps).

A pool is one tier at one location. Host keys and secrets never appear here: the
activities read them from the database, so they stay out of workflow history.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from tenantry.contracts.signup import ServerInfo

POOL_LABEL = "tenantry/pool"


class PoolKey(BaseModel):
    tier: str
    location: str


class PoolConfig(BaseModel):
    """How many booted, unassigned servers to keep, and after how long without a claim
    (or a miss) the pool shrinks to none until the next one."""

    size: int = Field(default=0, ge=0)
    idle_seconds: float = Field(default=6 * 3600, gt=0)
    check_seconds: float = Field(default=60, gt=0)


class PoolInput(BaseModel):
    key: PoolKey
    config: PoolConfig
    # Carried over continue-as-new: when the pool last saw demand.
    last_demand_at: datetime | None = None


class PoolDemand(BaseModel):
    """A signup claimed a server (`hit`) or found the pool empty."""

    signup_id: str
    hit: bool


class PoolCensus(BaseModel):
    ready: int = 0
    creating: int = 0
    claims: int = 0
    misses: int = 0


class PoolServerSpec(BaseModel):
    key: PoolKey
    name: str
    server_type: str


class PoolServerRef(BaseModel):
    name: str


class PoolState(BaseModel):
    key: PoolKey
    config: PoolConfig
    target: int
    in_flight: int
    last_demand_at: datetime | None


class PoolClaimInput(BaseModel):
    signup_id: str
    tenant_id: str
    key: PoolKey


class PoolClaim(BaseModel):
    """The server a signup claimed, or none (the pool was empty: create cold)."""

    server: ServerInfo | None = None
    # Public half of the server's host key (now the tenant's), for the health gate.
    host_public_key: str | None = None


class PoolPrepareInput(BaseModel):
    signup_id: str
    tenant_id: str
    subdomain: str
    name: str
    labels: dict[str, str] = Field(default_factory=dict)


class PoolReleaseInput(BaseModel):
    signup_id: str
