"""`tenantry tenants`: list, show and operate tenants (admin token)."""

from __future__ import annotations

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
    follow,
    table,
)
from tenantry.rules.plans import TenantTier

app = typer.Typer(help="Operate tenants (admin token).", no_args_is_help=True)
# Longer than any operation's own limits (a tier change waits for the resize and the
# health gate): past it the operation has failed or is stuck, and the log says which.
WAIT_TIMEOUT = 1800.0


@app.command("list")
def list_tenants(
    status: Annotated[str | None, typer.Option(help="only tenants with this status")] = None,
    every_page: AllOption = False,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """List tenants, newest first."""
    cli = Cli.from_options(api_url, token, as_json)
    rows = cli.list(
        "/v1/admin/tenants",
        "tenant_id",
        every_page=every_page,
        params={"status": status} if status else None,
    )
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


def _operate(
    cli: Cli,
    tenant_id: str,
    method: str,
    path: str,
    body: dict[str, object] | None,
    wait: bool,
    want: str,
) -> None:
    result = cli.call(method, f"/v1/admin/tenants/{tenant_id}{path}", json=body)
    if wait and result.get("status") == "in_progress":
        result = follow(
            cli,
            lambda: cli.call("GET", f"/v1/admin/tenants/{tenant_id}"),
            settled=lambda tenant: want in (tenant["status"], tenant.get("tier")),
            progress=lambda tenant: f"{tenant['status']} ({tenant.get('tier')})",
            what=f"tenant {tenant_id} (see `tenantry tenants show`)",
            timeout=WAIT_TIMEOUT,
        )
    cli.out(result, f"{tenant_id}: {result.get('status')} ({result.get('tier', '')})")


@app.command("suspend")
def suspend(
    tenant_id: Annotated[str, typer.Argument(help="the tenant id")],
    reason: Annotated[str | None, typer.Option(help="recorded in the audit log")] = None,
    wait: Annotated[bool, typer.Option(help="wait until done")] = True,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Stop the tenant's stack (data kept)."""
    cli = Cli.from_options(api_url, token, as_json)
    _operate(cli, tenant_id, "POST", "/suspend", {"reason": reason}, wait, "suspended")


@app.command("unsuspend")
def unsuspend(
    tenant_id: Annotated[str, typer.Argument(help="the tenant id")],
    wait: Annotated[bool, typer.Option(help="wait until done")] = True,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start the tenant's stack again, health-gated."""
    cli = Cli.from_options(api_url, token, as_json)
    _operate(cli, tenant_id, "POST", "/unsuspend", {}, wait, "active")


@app.command("tier")
def tier(
    tenant_id: Annotated[str, typer.Argument(help="the tenant id")],
    new_tier: Annotated[TenantTier, typer.Argument(help="the new tier")],
    wait: Annotated[bool, typer.Option(help="wait until done")] = True,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change the tenant's tier: resize the server, reprice the subscription."""
    cli = Cli.from_options(api_url, token, as_json)
    _operate(cli, tenant_id, "POST", "/tier", {"tier": new_tier.value}, wait, new_tier.value)


@app.command("delete")
def delete(
    tenant_id: Annotated[str, typer.Argument(help="the tenant id")],
    yes: Annotated[bool, typer.Option("--yes", help="confirm")] = False,
    wait: Annotated[bool, typer.Option(help="wait until done")] = True,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete the tenant: subscription, DNS record and server go; the log stays."""
    if not yes:
        fail("deleting a tenant cannot be undone; pass --yes", EXIT_BAD_INPUT)
    cli = Cli.from_options(api_url, token, as_json)
    _operate(cli, tenant_id, "DELETE", "", None, wait, "deleted")
