"""`tenantry accounts signup`: a self-serve account by email, in the two steps of the API.

Step one asks the API to mail a one-time link (`POST /v1/accounts`); step two spends
the token from that mail (`POST /v1/accounts/verify`) and prints the API key, once.
Without `--token` the command waits for the token on stdin; with it (the mail prints
the whole command) it only verifies.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tenantry.cli.http import EXIT_BAD_INPUT, ApiUrlOption, Cli, JsonOption, fail

app = typer.Typer(help="Self-serve accounts: sign up by email.", no_args_is_help=True)

TokenFromMail = Annotated[
    str | None,
    typer.Option("--token", help="the token from the mailed link (skips asking for a new mail)"),
]


@app.command("signup")
def signup(
    email: Annotated[
        str | None, typer.Option(help="your address; a one-time link is mailed to it")
    ] = None,
    token: TokenFromMail = None,
    api_url: ApiUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sign up (or get a new key for the account of your address) and print the API key."""
    if email is None and token is None:
        fail("give --email (and then the token from the mail), or --token", EXIT_BAD_INPUT)
    cli = Cli.from_options(api_url, None, as_json)
    cli.token = None  # public routes: never send an admin token or a key from the env
    if token is None:
        cli.call("POST", "/v1/accounts", json={"email": email})
        typer.echo(f"A one-time link was mailed to {email}.", err=True)
        typer.echo("Token from the mail (after token=): ", nl=False, err=True)
        token = sys.stdin.readline().strip()
    if not token:
        fail("the token is empty", EXIT_BAD_INPUT)
    verified = cli.call("POST", "/v1/accounts/verify", json={"token": token})
    cli.out(
        verified,
        f"account: {verified['account_id']}\n"
        f"API key: {verified['api_key']}\n"
        "Store the key now: it is not shown again (use it as --token or TENANTRY_TOKEN).",
    )
