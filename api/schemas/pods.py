"""Pods of an account: the create body, the accepted answer and the pod's view.

A running pod's `urls` are its services' public URLs at the edge, built from settings
here, so the view is the one place that knows how a pod is reached.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from db.models import Pod, Snapshot
from db.repo.pods import pod_services
from tenantry.contracts.pod import PodStatus
from tenantry.rules.edge_names import pod_hostname, pod_url
from tenantry.rules.plans import PodTier
from tenantry.rules.public_errors import public_pod_error
from tenantry.settings import ApiSettings


class PodCreate(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "name": "api-dev",
                    "tier": "dev.small",
                    "config": {
                        "template": "base",
                        "services": [{"name": "http", "port": 8080}],
                        "env": {"LOG_LEVEL": "debug"},
                        "idle_timeout": "30m",
                    },
                }
            ]
        }
    }

    name: str | None = Field(default=None, description="unique among the account's live pods")
    tier: PodTier | None = None
    config: str | dict[str, Any] | None = Field(
        default=None, description="the pod YAML as text, or the same as a JSON object"
    )


class PodAccepted(BaseModel):
    pod_id: str
    status: str
    pending: str | None = None


class SnapshotView(BaseModel):
    key: str
    size: int | None
    sha256: str | None
    taken_at: datetime | None


class PodView(BaseModel):
    pod_id: str
    name: str
    tier: str
    status: str
    host: str | None
    urls: dict[str, str]
    last_activity: datetime | None
    last_activity_source: str | None
    idle_timeout: int | None
    status_reason: str | None = Field(
        default=None,
        description="who asked for the status: api, idle, or credits (an empty prepaid "
        "balance); workspace_full while a running pod's workspace is full (`error` says more)",
    )
    snapshot: SnapshotView | None = None
    error: str | None = Field(
        default=None, description="a public message; the detail is in the operators' logs"
    )
    created_at: datetime


def edge_urls(settings: ApiSettings, pod: Pod) -> dict[str, str]:
    """The pod's services' public URLs at the edge."""
    return {
        service: pod_url(
            pod_hostname(service, pod.name, pod.account_id, settings.pod_base_domain),
            scheme=settings.edge_public_scheme,
            port=settings.edge_public_port,
        )
        for service in pod_services(pod)
    }


def pod_view(settings: ApiSettings, pod: Pod, host: str | None, snap: Snapshot | None) -> PodView:
    running = pod.status == PodStatus.RUNNING.value
    return PodView(
        pod_id=str(pod.id),
        name=pod.name,
        tier=pod.tier,
        status=pod.status,
        host=host,
        urls=edge_urls(settings, pod) if running else {},
        last_activity=pod.last_activity_at,
        last_activity_source=pod.last_activity_source,
        idle_timeout=pod.idle_timeout_seconds,
        status_reason=pod.status_reason,
        snapshot=SnapshotView(
            key=snap.s3_key, size=snap.size_bytes, sha256=snap.sha256, taken_at=snap.completed_at
        )
        if snap
        else None,
        error=public_pod_error(pod.error),
        created_at=pod.created_at,
    )
