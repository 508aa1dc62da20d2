"""`tenantry hosts`: the pod hosts, how they join, and whether they take new pods (admin token).

A host joins with a single-use token (`join-token`), shown once; `cloud-init` prints the
cloud-config that installs a fresh Debian 12 machine as a pod host with such a token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tenantry.cli.http import (
    EXIT_BAD_INPUT,
    AllOption,
    ApiUrlOption,
    Cli,
    JsonOption,
    TokenOption,
    fail,
    table,
)

app = typer.Typer(help="Pod hosts (admin token).", no_args_is_help=True)

HostArg = Annotated[str, typer.Argument(help="the host's id (see `tenantry hosts list`)")]


@app.command("list")
def list_hosts(
    every_page: AllOption = False,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """List pod hosts; only an approved host that heartbeats gets new pods."""
    cli = Cli.from_options(api_url, token, as_json)
    rows = cli.list("/v1/admin/hosts", "host_id", every_page=every_page)
    columns = ["host_id", "name", "address", "state", "status", "capacity_cpu_millis"]
    used = ["capacity_memory_mb", "used_cpu_millis", "used_memory_mb"]
    cli.out(rows, table(rows, [*columns, *used, "last_heartbeat_at"]))


@app.command("join-token")
def join_token(
    ttl: Annotated[int, typer.Option("--ttl", help="seconds the token may be used")] = 3600,
    approved: Annotated[
        bool, typer.Option("--approved", help="the host takes pods at once (no approval)")
    ] = False,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Mint a single-use join token for one new host (printed once, never stored)."""
    cli = Cli.from_options(api_url, token, as_json)
    minted = cli.call(
        "POST", "/v1/admin/hosts/join-tokens", json={"ttl": ttl, "approved": approved}
    )
    cli.out(minted, minted["token"])


def _state_command(action: str, help_text: str) -> None:
    def command(
        host_id: HostArg,
        api_url: ApiUrlOption = None,
        token: TokenOption = None,
        as_json: JsonOption = False,
    ) -> None:
        cli = Cli.from_options(api_url, token, as_json)
        host = cli.call("POST", f"/v1/admin/hosts/{host_id}/{action}")
        if action == "drain":
            failed = host["failed"]
            text = f"{host['host']['name']}: {host['host']['state']}, "
            text += f"{len(host['hibernating'])} pods hibernating"
            text += "".join(f"\n  {pod}: {why}" for pod, why in failed.items())
            cli.out(host, text)
        else:
            cli.out(host, f"{host['name']}: {host['state']}")

    command.__doc__ = help_text
    app.command(action)(command)


_state_command("approve", "Let the host take new pods (pending, cordoned or drained before).")
_state_command("cordon", "No new pods on the host; its pods keep running.")
_state_command(
    "drain", "Cordon the host and hibernate its pods (they restore elsewhere when asked)."
)


@app.command("remove")
def remove(
    host_id: HostArg,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Forget an empty host (drain it first); its credential stops working."""
    cli = Cli.from_options(api_url, token, as_json)
    host = cli.call("DELETE", f"/v1/admin/hosts/{host_id}")
    cli.out(host, f"{host['name']}: removed")


@app.command("cloud-init")
def cloud_init(
    join_token: Annotated[
        str, typer.Option("--join-token", help="from `tenantry hosts join-token`")
    ],
    api_url: Annotated[str, typer.Option("--api-url", help="the API the host agent reports to")],
    ssh_public_key: Annotated[
        Path,
        typer.Option(
            "--ssh-public-key",
            help="the control plane's SSH public key, the only key the host's sshd accepts",
            envvar="TENANTRY_SSH_PUBLIC_KEY_PATH",
        ),
    ] = Path(".tenantry/ssh/id_ed25519.pub"),
    address: Annotated[
        str | None,
        typer.Option("--address", help="the host's address (default: its first one)"),
    ] = None,
    agent_package: Annotated[
        str, typer.Option("--agent-package", help="pip requirement that provides the agent")
    ] = "tenantry",
) -> None:
    """Print a cloud-config that turns a fresh Debian 12 machine into a pod host.

    Docker with gVisor (runsc), sshd accepting only the control plane's key, and
    `tenantry host-agent` as a systemd unit that joins with the token.
    """
    from tenantry.agents.host.install import cloud_config

    try:
        key = ssh_public_key.read_text()
        document = cloud_config(
            api_url=api_url,
            join_token=join_token,
            ssh_public_key=key,
            address=address,
            agent_package=agent_package,
        )
    except (OSError, ValueError) as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    typer.echo(document, nl=False)
