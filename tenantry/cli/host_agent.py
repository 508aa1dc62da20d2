"""`tenantry host-agent`: the process every pod host runs (see `tenantry.agents.host`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from tenantry.cli.http import EXIT_BAD_INPUT, fail


def host_agent(
    api_url: Annotated[
        str | None,
        typer.Option("--api-url", help="API base URL (env: TENANTRY_API_URL)", show_default=False),
    ] = None,
    join_token: Annotated[
        str | None,
        typer.Option(
            "--join-token",
            help="single-use join token from `tenantry hosts join-token`, needed only until "
            "the host has its own credential (env: TENANTRY_HOST_JOIN_TOKEN)",
            show_default=False,
        ),
    ] = None,
    credential_file: Annotated[
        Path | None,
        typer.Option(
            "--credential-file",
            help="where this host's credential is kept, mode 0600 (env: "
            "TENANTRY_HOST_CREDENTIAL_FILE; default: /var/lib/tenantry/host-credential.json)",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="host name, unique among hosts (env: TENANTRY_HOST_NAME; default: hostname)",
            show_default=False,
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            help="address the control plane reaches this host's sshd on; pod ports are "
            "published there (env: TENANTRY_HOST_ADDRESS; required)",
            show_default=False,
        ),
    ] = None,
    ssh_port: Annotated[
        int | None,
        typer.Option(
            "--ssh-port",
            help="sshd port (env: TENANTRY_HOST_SSH_PORT; default: 22)",
            show_default=False,
        ),
    ] = None,
    host_key_file: Annotated[
        Path | None,
        typer.Option(
            "--host-key-file",
            help="sshd's public host key, pinned by the API at registration "
            "(env: TENANTRY_HOST_KEY_FILE; default: /etc/ssh/ssh_host_ed25519_key.pub)",
            show_default=False,
        ),
    ] = None,
    cpu_millis: Annotated[
        int | None,
        typer.Option(
            "--cpu-millis",
            help="CPU for pods, in thousandths of a CPU "
            "(env: TENANTRY_HOST_CPU_MILLIS; default: this machine's CPUs)",
            show_default=False,
        ),
    ] = None,
    memory_mb: Annotated[
        int | None,
        typer.Option(
            "--memory-mb",
            help="memory for pods in MB (env: TENANTRY_HOST_MEMORY_MB; default: MemTotal)",
            show_default=False,
        ),
    ] = None,
    interval: Annotated[
        str | None,
        typer.Option(
            "--interval",
            help="seconds (or ISO 8601) between heartbeats "
            "(env: TENANTRY_HOST_HEARTBEAT_INTERVAL; default: 30)",
            show_default=False,
        ),
    ] = None,
    docker_host: Annotated[
        str | None,
        typer.Option(
            "--docker-host",
            help="the Docker daemon that runs this host's pods "
            "(env: DOCKER_HOST; default: unix:///var/run/docker.sock)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Register this pod host with the API, then heartbeat capacity and usage.

    Pods with a live session (a running `docker exec` into the pod, or an
    established connection to a pod service named `ssh`) are reported as
    activity, so they are not hibernated as idle. The first registration
    spends the join token for this host's own credential, saved to the
    credential file and used from then on. Exits 0 on SIGTERM/Ctrl-C, 2 when
    the API refuses the host (a bad, expired or used join token, a host key
    other than the pinned one); an unreachable API is retried with backoff.
    """
    from tenantry.agents.host import identity_from, run_agent
    from tenantry.settings import HostAgentSettings

    flags: dict[str, Any] = {
        "api_url": api_url,
        "host_join_token": join_token,
        "host_credential_file": credential_file,
        "host_name": name,
        "host_address": address,
        "host_ssh_port": ssh_port,
        "host_key_file": host_key_file,
        "host_cpu_millis": cpu_millis,
        "host_memory_mb": memory_mb,
        "host_heartbeat_interval": interval,
        "docker_host": docker_host,
    }
    try:
        settings = HostAgentSettings(**{k: v for k, v in flags.items() if v is not None})
        identity = identity_from(settings)
    except (ValidationError, ValueError) as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    raise typer.Exit(run_agent(settings, identity))
