"""The warm pool's activities wired as the worker wires them, against the real parts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcloud
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.pool import PoolActivities
from activities.secrets_gen import new_tenant_secrets
from db.models import PoolClaim, PoolServer, Tenant
from db.session import make_engine, make_sessionmaker
from tenantry.contracts.pool import PoolClaimInput, PoolKey, PoolServerSpec
from tenantry.settings import WorkerSettings
from tests.fixtures.hetzner import HetznerEmulator
from worker.registry import pool_activities

KEY = PoolKey(tier="starter", location="fsn1")


@dataclass
class PoolParts:
    activities: PoolActivities
    sessions: sessionmaker[Session]
    hetzner: HetznerEmulator
    env: ActivityEnvironment

    def run(self, fn: Any, arg: Any) -> Any:
        return self.env.run(fn, arg)

    def create(self, name: str) -> bool:
        spec = PoolServerSpec(key=KEY, name=name, server_type="cpx21")
        return bool(self.run(self.activities.pool_create_server, spec))

    def tenant(self, subdomain: str) -> tuple[str, str]:
        """A tenant row with fresh secrets, as `ensure_tenant` makes it: (signup, tenant)."""
        signup_id, tenant_id = str(uuid.uuid4()), str(uuid.uuid4())
        with self.sessions() as session:
            session.add(
                Tenant(
                    id=uuid.UUID(tenant_id),
                    subdomain=subdomain,
                    tier="starter",
                    signup_id=uuid.UUID(signup_id),
                    secrets=new_tenant_secrets(subdomain),
                )
            )
            session.commit()
        return signup_id, tenant_id

    def claim_input(self, signup_id: str, tenant_id: str) -> PoolClaimInput:
        return PoolClaimInput(signup_id=signup_id, tenant_id=tenant_id, key=KEY)

    def rows(self) -> dict[str, str]:
        with self.sessions() as session:
            return {r.name: r.status for r in session.scalars(select(PoolServer))}

    def claims(self) -> dict[str, str | None]:
        with self.sessions() as session:
            return {str(c.signup_id): c.server_name for c in session.scalars(select(PoolClaim))}

    def tenant_secrets(self, tenant_id: str) -> dict[str, Any]:
        with self.sessions() as session:
            tenant = session.get(Tenant, uuid.UUID(tenant_id))
            assert tenant is not None and tenant.secrets is not None
            return dict(tenant.secrets)

    def servers(self) -> list[Any]:
        return list(self.hetzner.client().servers.get_all())

    def client(self) -> hcloud.Client:
        return self.hetzner.client()


def build_parts(database_url: str, hetzner: HetznerEmulator, key_path: Path) -> PoolParts:
    settings = WorkerSettings(
        env="dev",
        database_url=database_url,
        hetzner_token=hetzner.token,
        hetzner_endpoint=hetzner.endpoint,
        ssh_key_path=key_path,
        provider_poll_interval=0.05,
        base_domain="tenantry.test",
    )
    sessions = make_sessionmaker(make_engine(database_url))
    return PoolParts(pool_activities(settings, sessions), sessions, hetzner, ActivityEnvironment())
