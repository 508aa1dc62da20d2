"""Renders a tenant server's cloud-init from the tenant's encrypted secrets.

It runs inside the (sync) server-create activity, so the rendered user data, which holds
the host's private key and the stack's secrets, goes to Hetzner and nowhere else: never
into workflow history, logs or search attributes.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError

from activities.cloudinit import user_data
from db.models import PoolServer, Tenant
from tenantry.contracts.common import ErrorType
from tenantry.contracts.signup import ServerSpec


class TenantUserData:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        authorized_keys: list[str],
        app_image: str,
        base_domain: str,
    ) -> None:
        self._sessions = sessions
        self._authorized_keys = authorized_keys
        self._app_image = app_image
        self._base_domain = base_domain

    def __call__(self, spec: ServerSpec) -> str:
        with self._sessions() as session:
            secrets = session.scalar(
                select(Tenant.secrets).where(Tenant.id == uuid.UUID(spec.tenant_id))
            )
        if not secrets:
            raise ApplicationError(
                f"tenant {spec.tenant_id} has no secrets yet",
                type=ErrorType.NOT_FOUND,
                non_retryable=True,
            )
        return user_data(
            hostname=spec.name,
            host_key_private=secrets["ssh_host_private_key"],
            host_key_public=secrets["ssh_host_public_key"],
            authorized_keys=self._authorized_keys,
            stack_env=tenant_stack_env(
                spec.tenant_id, f"{spec.subdomain}.{self._base_domain}", secrets
            ),
            app_image=self._app_image,
        )


def tenant_stack_env(tenant_id: str, domain: str, secrets: dict[str, Any]) -> dict[str, str]:
    """The tenant stack's environment: what cloud-init or a warm claim writes to
    `/etc/tenantry/stack.env`."""
    return {
        "TENANT_ID": tenant_id,
        "TENANT_DOMAIN": domain,
        "DB_PASSWORD": secrets["db_password"],
        "APP_ENCRYPTION_KEY": secrets["encryption_key"],
        "AUTH_SECRET": secrets["auth_secret"],
    }


class PoolUserData:
    """A warm pool server's cloud-init: its own host key (from its pool row), the
    control plane's key, the stack's files and image, no tenant's secrets."""

    def __init__(
        self, sessions: sessionmaker[Session], *, authorized_keys: list[str], app_image: str
    ) -> None:
        self._sessions = sessions
        self._authorized_keys = authorized_keys
        self._app_image = app_image

    def __call__(self, spec: ServerSpec) -> str:
        with self._sessions() as session:
            secrets = session.scalar(select(PoolServer.secrets).where(PoolServer.name == spec.name))
        if not secrets:
            raise ApplicationError(
                f"pool server {spec.name} has no row", type=ErrorType.NOT_FOUND, non_retryable=True
            )
        return user_data(
            hostname=spec.name,
            host_key_private=secrets["ssh_host_private_key"],
            host_key_public=secrets["ssh_host_public_key"],
            authorized_keys=self._authorized_keys,
            stack_env=None,
            app_image=self._app_image,
        )
