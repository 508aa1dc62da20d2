"""The tenant stack on its server, driven over SSH with the host key pinned at provisioning.

`tenantry-stack stop` keeps every volume (a suspended tenant keeps its data);
`tenantry-stack start` brings the same stack back; `tenantry-stack version` prints the
compose file's image tag and `running` the running container's; `pull <tag>` fetches an
image (minutes on a slow registry: the activity heartbeats while it waits) and
`deploy <tag>` moves the stack to it (a no-op when that tag already runs, so a retried
deploy deploys nothing twice; the file is retagged only once the image is there).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.tenant_ssh import run_pinned
from db.models import Tenant
from tenantry.contracts.common import ErrorType
from tenantry.contracts.rollout import valid_image_tag
from tenantry.contracts.tenant import StackCommand

ALLOWED = frozenset({"start", "stop", "status", "restart", "version", "running", "pull", "deploy"})
WITH_TAG = frozenset({"pull", "deploy"})
HEARTBEAT_EVERY = 2.0  # seconds between heartbeats while a command runs


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
        line = _command_line(cmd)
        host_key = await self._host_key(cmd.tenant_id)
        running = asyncio.ensure_future(
            run_pinned(
                cmd.host,
                host_key,
                line,
                client_key=self._ssh_key_path,
                user=self._ssh_user,
            )
        )
        try:
            # A pull can take minutes: heartbeat while it runs, so a dead worker is
            # noticed by the heartbeat timeout rather than the long start-to-close one.
            while not running.done():
                await asyncio.wait({running}, timeout=HEARTBEAT_EVERY)
                if not running.done():
                    activity.heartbeat(line)
        finally:
            if not running.done():
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await running
        result = running.result()
        if result.exit_status != 0:
            raise ApplicationError(
                f"{line} failed on {cmd.host}: {result.stderr!s}", type="StackCommandFailed"
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


def _command_line(cmd: StackCommand) -> str:
    """The command sent over SSH: only known subcommands, only a valid tag as argument."""
    if cmd.command not in ALLOWED:
        raise ApplicationError(
            f"unknown stack command {cmd.command!r}",
            type=ErrorType.INVALID_INPUT,
            non_retryable=True,
        )
    if cmd.command in WITH_TAG:
        if len(cmd.args) != 1 or not valid_image_tag(cmd.args[0]):
            raise ApplicationError(
                f"{cmd.command} needs one valid image tag, not {cmd.args!r}",
                type=ErrorType.INVALID_INPUT,
                non_retryable=True,
            )
        return f"tenantry-stack {cmd.command} {cmd.args[0]}"
    if cmd.args:
        raise ApplicationError(
            f"tenantry-stack {cmd.command} takes no arguments",
            type=ErrorType.INVALID_INPUT,
            non_retryable=True,
        )
    return f"tenantry-stack {cmd.command}"
