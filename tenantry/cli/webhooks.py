"""`tenantry webhooks`: recover Stripe events whose delivery to the API failed (admin)."""

from __future__ import annotations

import typer

from tenantry.cli.http import ApiUrlOption, Cli, JsonOption, TokenOption

app = typer.Typer(help="Stripe webhook operations (admin token).", no_args_is_help=True)


@app.command("recover")
def recover(
    api_url: ApiUrlOption = None, token: TokenOption = None, as_json: JsonOption = False
) -> None:
    """Apply every event Stripe could not deliver; already applied ones change nothing."""
    cli = Cli.from_options(api_url, token, as_json)
    report = cli.call("POST", "/v1/admin/stripe/recover")
    summary = ", ".join(f"{n} {k}" for k, n in sorted(report["outcomes"].items())) or "nothing"
    cli.out(report, f"{report['examined']} undelivered events: {summary}")
