"""Pod hosts: registration, heartbeats and activity reports from agents; the admin view,
join tokens and drains.

A host key is normalised to `type base64` as it is parsed, so the pinned key and a
later report compare as strings whatever comment or spacing the agent sent.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import asyncssh
from pydantic import BaseModel, Field, field_validator

from api.schemas.types import Whole
from db.models import Host


def _normalise_key(value: str) -> str:
    try:
        key = asyncssh.import_public_key(value.strip())
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise ValueError("not an OpenSSH public key ('ssh-ed25519 AAAA...')") from exc
    kind, data = key.export_public_key("openssh").decode().split()[:2]
    return f"{kind} {data}"


INT32_MAX = 2**31 - 1  # the columns are INTEGER: a larger number was a 500 from the database


class HostUsage(BaseModel):
    capacity_cpu_millis: Whole | None = Field(default=None, ge=0, le=INT32_MAX)
    capacity_memory_mb: Whole | None = Field(default=None, ge=0, le=INT32_MAX)
    used_cpu_millis: Whole | None = Field(default=None, ge=0, le=INT32_MAX)
    used_memory_mb: Whole | None = Field(default=None, ge=0, le=INT32_MAX)
    metrics: dict[str, Any] | None = None


class HostRegister(HostUsage):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "name": "pod-host-1",
                    "address": "203.0.113.10",
                    "ssh_port": 22,
                    "ssh_host_key": "ssh-ed25519 "
                    "AAAAC3NzaC1lZDI1NTE5AAAAIHhs0lHdRwZ6Z1mJf2k5u6QbXv3QvS1fPp0uX1vR9xQe",
                    "capacity_cpu_millis": 8000,
                    "capacity_memory_mb": 16384,
                }
            ]
        }
    }

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{0,62}$")
    address: str
    ssh_port: Whole = Field(default=22, ge=1, le=65535)
    ssh_host_key: str = Field(description="the host's SSH host public key, pinned from now on")

    @field_validator("ssh_host_key")
    @classmethod
    def _key(cls, value: str) -> str:
        return _normalise_key(value)


class HostHeartbeat(HostUsage):
    model_config = {
        "json_schema_extra": {"examples": [{"used_cpu_millis": 1500, "used_memory_mb": 2048}]}
    }

    ssh_host_key: str = Field(description="required, and must equal the pinned key")
    # Bounded so that any list over the bound is still a small body (422, not 413).
    upstreams: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list,
        max_length=1000,
        description="`address:port` of every pod port published here (what the edge would "
        "route to); each must be on the host's registered address",
    )

    @field_validator("ssh_host_key")
    @classmethod
    def _key(cls, value: str) -> str:
        return _normalise_key(value)


class HostView(BaseModel):
    host_id: str
    name: str
    address: str
    ssh_port: int
    ssh_host_key: str
    status: str
    state: str = Field(description="pending, approved, cordoned, draining or drained")
    available: bool = Field(description="approved and reporting: takes new pods")
    capacity_cpu_millis: int
    capacity_memory_mb: int
    used_cpu_millis: int
    used_memory_mb: int
    last_heartbeat_at: datetime | None
    metrics: dict[str, Any] = Field(
        default_factory=dict, description="what the host agent last reported beyond usage"
    )


class HostRegistered(HostView):
    credential: str = Field(
        description="this host's own credential for every later call; shown only now"
    )


class JoinTokenCreate(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"ttl": 3600, "approved": False}]}}

    ttl: Whole = Field(default=3600, ge=1, strict=True, description="seconds the token may be used")
    approved: bool = Field(
        default=False,
        strict=True,
        description="the host takes pods at once instead of waiting as pending",
    )


class JoinToken(BaseModel):
    token: str = Field(description="single use; shown only now")
    approved: bool
    expires_at: datetime


class DrainResult(BaseModel):
    host: HostView
    hibernating: list[str] = Field(description="pods asked to hibernate (they restore elsewhere)")
    failed: dict[str, str] = Field(description="pods that refused, with why (drain again later)")


class PodActivityReport(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [{"source": "proxy", "pods": ["6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"]}]
        }
    }

    source: str = Field(
        pattern=r"^[a-z][a-z0-9-]{0,31}$",
        description="what saw the activity: `proxy` (edge traffic), `ssh` (a session), ...",
    )
    pods: list[uuid.UUID] = Field(max_length=1000, description="pods active since the last report")


class PodActivityResult(BaseModel):
    kept_alive: list[str] = Field(description="running pods whose idle timer started again")
    ignored: list[str] = Field(description="unknown pods, or pods that are not running")


def host_view(host: Host) -> HostView:
    return HostView(
        host_id=str(host.id),
        name=host.name,
        address=host.address,
        ssh_port=host.ssh_port,
        ssh_host_key=host.ssh_host_key,
        status=host.status,
        state=host.state,
        available=host.status == "active" and host.state == "approved",
        capacity_cpu_millis=host.capacity_cpu_millis,
        capacity_memory_mb=host.capacity_memory_mb,
        used_cpu_millis=host.used_cpu_millis,
        used_memory_mb=host.used_memory_mb,
        last_heartbeat_at=host.last_heartbeat_at,
        metrics=dict(host.metrics or {}),
    )
