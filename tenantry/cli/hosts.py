"""`tenantry hosts`: the pod hosts and whether they take new pods (admin token)."""

from __future__ import annotations

import typer

from tenantry.cli.http import AllOption, ApiUrlOption, Cli, JsonOption, TokenOption, table

app = typer.Typer(help="Pod hosts (admin token).", no_args_is_help=True)


@app.command("list")
def list_hosts(
    every_page: AllOption = False,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """List pod hosts; a host that stopped heartbeating is offline and gets no new pods."""
    cli = Cli.from_options(api_url, token, as_json)
    rows = cli.list("/v1/admin/hosts", "host_id", every_page=every_page)
    columns = ["name", "address", "status", "capacity_cpu_millis", "capacity_memory_mb"]
    used = ["used_cpu_millis", "used_memory_mb"]
    cli.out(rows, table(rows, [*columns, *used, "last_heartbeat_at"]))
