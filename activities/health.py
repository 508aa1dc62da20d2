"""The health gate: a tenant is active only when its stack answers and SSH proves its key.

The SSH check connects with the host key generated at provisioning pinned, and waits
for cloud-init to finish: an address that answers with any other key is not our server.
With `expect_version` (a rollout's gate) the stack must also report that image tag.

The TLS context is built once per worker: httpx builds one per client by parsing the
CA bundle, ~35 ms of CPU that was on every signup's critical path (the gate itself
speaks plain HTTP to the server's address).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.tenant_ssh import run_pinned
from tenantry.contracts.common import ErrorType
from tenantry.contracts.signup import HealthGateInput


class HealthActivities:
    def __init__(self, *, ssh_key_path: Path, ssh_user: str = "root") -> None:
        self._ssh_key_path = ssh_key_path
        self._ssh_user = ssh_user
        self._tls = httpx.create_ssl_context()

    @activity.defn
    async def wait_healthy(self, gate: HealthGateInput) -> str:
        delay = 0.25
        last = "no answer yet"
        async with httpx.AsyncClient(timeout=5.0, verify=self._tls) as http:
            while True:
                try:
                    response = await http.get(gate.url, headers={"Host": gate.host_header})
                    if response.status_code == 200:
                        version = _reported_version(response)
                        if gate.expect_version is None or version == gate.expect_version:
                            break
                        last = f"HTTP 200 on version {version}, not {gate.expect_version}"
                    else:
                        last = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                activity.heartbeat(last)
                if datetime.now(UTC) >= gate.deadline:
                    raise ApplicationError(
                        f"{gate.host_header} did not become healthy in time (last: {last})",
                        type=ErrorType.HEALTH_GATE_TIMEOUT,
                        non_retryable=True,
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        if gate.ssh_host and gate.ssh_host_public_key:
            await self._verify_ssh(gate.ssh_host, gate.ssh_host_public_key)
        return "healthy"

    async def _verify_ssh(self, host: str, public_key: str) -> None:
        result = await run_pinned(
            host,
            public_key,
            "cloud-init status --wait",
            client_key=self._ssh_key_path,
            user=self._ssh_user,
            connect_timeout=10,
            command_timeout=60,
        )
        if result.exit_status != 0:
            raise ApplicationError(
                f"cloud-init on {host} did not finish: {result.stderr!s}", type="CloudInitPending"
            )


def _reported_version(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    version = body.get("version") if isinstance(body, dict) else None
    return str(version) if version is not None else None
