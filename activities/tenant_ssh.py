"""One command on a tenant server over SSH, with the host key pinned at provisioning.

The one place where asyncssh errors become ours: a different host key is not our server
(non-retryable), anything else on the way is transient.
"""

from __future__ import annotations

from pathlib import Path

import asyncssh
from temporalio.exceptions import ApplicationError

from tenantry.contracts.common import ErrorType


async def run_pinned(
    host: str,
    host_public_key: str,
    command: str,
    *,
    client_key: Path,
    user: str = "root",
    connect_timeout: float = 15,
    command_timeout: float = 300,
    stdin: str | None = None,
) -> asyncssh.SSHCompletedProcess:
    """Runs `command` on `host`, refusing any host key but `host_public_key`."""
    try:
        async with asyncssh.connect(
            host,
            username=user,
            known_hosts=asyncssh.import_known_hosts(f"{host} {host_public_key}\n"),
            client_keys=[str(client_key)],
            connect_timeout=connect_timeout,
        ) as conn:
            return await conn.run(command, check=False, timeout=command_timeout, input=stdin)
    except asyncssh.HostKeyNotVerifiable as exc:
        raise ApplicationError(
            f"{host} presented a host key that is not the tenant's",
            type=ErrorType.HOST_KEY_MISMATCH,
            non_retryable=True,
        ) from exc
    except (OSError, asyncssh.Error) as exc:
        raise ApplicationError(f"ssh to {host} failed: {exc}", type="SshUnavailable") from exc
