"""`tenantry tenants`: list tenants and show one with its provisioning log (admin token)."""

from __future__ import annotations

from typing import Annotated

import typer

from tenantry.cli.http import ApiUrlOption, Cli, JsonOption, TokenOption, table

app = typer.Typer(help="Operate tenants (admin token).", no_args_is_help=True)


@app.command("list")
def list_tenants(
    status: Annotated[str | None, typer.Option(help="only tenants with this status")] = None,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """List tenants, newest first."""
    cli = Cli.from_options(api_url, token, as_json)
    rows = cli.call("GET", "/v1/admin/tenants", params={"status": status} if status else None)
    cli.out(rows, table(rows, ["tenant_id", "subdomain", "tier", "status", "server_ip"]))


@app.command("show")
def show(
    tenant_id: Annotated[str, typer.Argument(help="the tenant id")],
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a tenant and its provisioning log."""
    cli = Cli.from_options(api_url, token, as_json)
    tenant = cli.call("GET", f"/v1/admin/tenants/{tenant_id}")
    log = "\n".join(
        f"  {e['at']}  {e['action']}  {e['details']}" for e in tenant["provisioning_log"]
    )
    cli.out(
        tenant,
        f"{tenant['subdomain']} ({tenant['tier']}): {tenant['status']}\n"
        f"server {tenant['server_id']} at {tenant['server_ip']}, dns {tenant['dns_record']}\n"
        f"provisioning log:\n{log}",
    )
