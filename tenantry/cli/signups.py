"""`tenantry signup`: start a signup, follow it, and (admins) list, approve or reject."""

from __future__ import annotations

from typing import Annotated

import typer

from tenantry.cli.http import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
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
from tenantry.rules.validation import subdomain_problem

app = typer.Typer(help="Sign up for a tenant and follow its provisioning.", no_args_is_help=True)

FINAL = {"active", "failed", "expired", "rejected"}


@app.command("create")
def create(
    email: Annotated[str, typer.Option(help="the customer's email")],
    subdomain: Annotated[str, typer.Option(help="DNS label for {subdomain}.{base domain}")],
    tier: Annotated[TenantTier, typer.Option(help="tenant plan")] = TenantTier.STARTER,
    wait: Annotated[
        bool, typer.Option(help="after checkout, follow until active or failed")
    ] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait with --wait")] = 1800,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a signup and print its Checkout URL (pay there), then optionally wait."""
    problem = subdomain_problem(subdomain)
    if problem:
        fail(f"subdomain: {problem}", EXIT_BAD_INPUT)
    cli = Cli.from_options(api_url, token, as_json)
    created = cli.call(
        "POST", "/v1/signups", json={"email": email, "subdomain": subdomain, "tier": tier.value}
    )
    cli.out(
        created,
        f"signup {created['signup_id']} is {created['status']}\n"
        f"pay at: {created['checkout_url']}\n"
        f"status token: {created['status_token']}",
    )
    if wait:
        _follow(cli, created["signup_id"], created["status_token"], timeout)


@app.command("status")
def status(
    signup_id: Annotated[str, typer.Argument(help="the signup id")],
    status_token: Annotated[str, typer.Option("--status-token", help="token from create")],
    wait: Annotated[bool, typer.Option(help="follow until active or failed")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait with --wait")] = 1800,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a signup's status (with --wait, follow it to the end)."""
    cli = Cli.from_options(api_url, token, as_json)
    if wait:
        _follow(cli, signup_id, status_token, timeout)
        return
    view = cli.call("GET", f"/v1/signups/{signup_id}", params={"status_token": status_token})
    cli.out(view, _line(view))


@app.command("list")
def list_signups(
    status: Annotated[str | None, typer.Option(help="only signups with this status")] = None,
    every_page: AllOption = False,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """List signups, newest first (admin token)."""
    cli = Cli.from_options(api_url, token, as_json)
    rows = cli.list(
        "/v1/admin/signups",
        "signup_id",
        every_page=every_page,
        params={"status": status} if status else None,
    )
    columns = ["signup_id", "subdomain", "tier", "status", "step", "reset_event_id", "created_at"]
    cli.out(rows, table(rows, columns))


@app.command("approve")
def approve(
    signup_id: Annotated[str, typer.Argument(help="the signup id")],
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve a signup that awaits approval (admin token)."""
    cli = Cli.from_options(api_url, token, as_json)
    view = cli.call("POST", f"/v1/admin/signups/{signup_id}/approve", json={})
    cli.out(view, _line(view))


@app.command("reject")
def reject(
    signup_id: Annotated[str, typer.Argument(help="the signup id")],
    reason: Annotated[str | None, typer.Option(help="told to the customer")] = None,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reject a signup that awaits approval; its subscription is cancelled (admin token)."""
    cli = Cli.from_options(api_url, token, as_json)
    view = cli.call("POST", f"/v1/admin/signups/{signup_id}/reject", json={"reason": reason})
    cli.out(view, _line(view))


def _follow(cli: Cli, signup_id: str, status_token: str, timeout: float) -> None:
    view = follow(
        cli,
        lambda: cli.call("GET", f"/v1/signups/{signup_id}", params={"status_token": status_token}),
        settled=lambda v: v["status"] in FINAL,
        progress=lambda v: f"{v['status']:<18} {v.get('step') or ''}".rstrip(),
        what=f"signup {signup_id}",
        timeout=timeout,
    )
    cli.out(view, _line(view))
    if view["status"] != "active":
        raise typer.Exit(EXIT_FAILED)


def _line(view: dict[str, object]) -> str:
    parts = [f"{view['signup_id']}: {view['status']}"]
    if view.get("step"):
        parts.append(f"at {view['step']}")
    if view.get("url"):
        parts.append(f"-> {view['url']}")
    if view.get("error"):
        parts.append(f"({view['error']})")
    return " ".join(parts)
