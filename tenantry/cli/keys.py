"""`tenantry keys`: the account's API keys (needs one of them as --token)."""

from __future__ import annotations

from typing import Annotated

import typer

from tenantry.cli.http import AllOption, ApiUrlOption, Cli, JsonOption, TokenOption, table

app = typer.Typer(help="List, create and revoke your API keys.", no_args_is_help=True)

COLUMNS = ["id", "name", "prefix", "created_at", "last_used_at"]


@app.command("list")
def list_keys(
    every_page: AllOption = False,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the account's keys in use, newest first (never their secrets)."""
    cli = Cli.from_options(api_url, token, as_json)
    rows = cli.list("/v1/keys", "id", every_page=every_page)
    cli.out(rows, table(rows, COLUMNS))


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="what the key is for, e.g. ci")],
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key and print its secret, once."""
    cli = Cli.from_options(api_url, token, as_json)
    created = cli.call("POST", "/v1/keys", json={"name": name})
    cli.out(
        created,
        f"key {created['id']} ({created['name']})\n"
        f"API key: {created['api_key']}\n"
        "Store it now: it is not shown again.",
    )


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id (from `tenantry keys list`)")],
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a key at once (not the account's last one: create another first)."""
    cli = Cli.from_options(api_url, token, as_json)
    revoked = cli.call("DELETE", f"/v1/keys/{key_id}")
    cli.out(revoked, f"key {revoked['id']} ({revoked['name']}) revoked at {revoked['revoked_at']}")
