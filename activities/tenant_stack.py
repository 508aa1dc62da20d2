"""The tenant stack on its server, driven over SSH with the host key pinned at provisioning.

`tenantry-stack stop` keeps every volume (a suspended tenant keeps its data);
`tenantry-stack start` brings the same stack back.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncssh
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.models import Tenant
from tenantry.contracts import ErrorType, StackCommand

ALLOWED = frozenset({"start", "stop", "status", "restart"})


class TenantStackActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ssh_key_path: Path,
        ssh_user: str = "root",
    ) -> None:
        self._sessions = sessions
        self._ssh_key_path = ssh_key_path
        self._ssh_user = ssh_user

    @activity.defn
    async def run_stack_command(self, cmd: StackCommand) -> str:
        if cmd.command not in ALLOWED:
            raise ApplicationError(
                f"unknown stack command {cmd.command!r}",
                type=ErrorType.INVALID_INPUT,
                non_retryable=True,
            )
        host_key = await self._host_key(cmd.tenant_id)
        try:
            async with asyncssh.connect(
                cmd.host,
                username=self._ssh_user,
                known_hosts=asyncssh.import_known_hosts(f"{cmd.host} {host_key}\n"),
                client_keys=[str(self._ssh_key_path)],
                connect_timeout=15,
            ) as conn:
                result = await conn.run(f"tenantry-stack {cmd.command}", check=False, timeout=300)
        except asyncssh.HostKeyNotVerifiable as exc:
            raise ApplicationError(
                f"{cmd.host} presented a host key that is not the tenant's",
                type=ErrorType.HOST_KEY_MISMATCH,
                non_retryable=True,
            ) from exc
        except (OSError, asyncssh.Error) as exc:
            raise ApplicationError(
                f"ssh to {cmd.host} failed: {exc}", type="SshUnavailable"
            ) from exc
        if result.exit_status != 0:
            raise ApplicationError(
                f"tenantry-stack {cmd.command} failed on {cmd.host}: {result.stderr!s}",
                type="StackCommandFailed",
            )
        return str(result.stdout)

    async def _host_key(self, tenant_id: str) -> str:
        async with self._sessions() as session:
            secrets = await session.scalar(
                select(Tenant.secrets).where(Tenant.id == uuid.UUID(tenant_id))
            )
        if not secrets or "ssh_host_public_key" not in secrets:
            raise ApplicationError(
                f"tenant {tenant_id} has no pinned host key",
                type=ErrorType.NOT_FOUND,
                non_retryable=True,
            )
        return str(secrets["ssh_host_public_key"])
